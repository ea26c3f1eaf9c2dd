#!/usr/bin/env bash
# Lock the cloud runtime's requirements (Python 3.12 on Cloud Functions; the lock is
# universal from 3.11 so the deploy-tier test installs the very same pins here), with
# hashes. Needs uv (pip install uv).
set -euo pipefail
cd "$(dirname "$0")"
uv pip compile requirements-cloud.in --universal --python-version 3.11 --generate-hashes \
  --no-header --output-file requirements-cloud.txt
sed -i '1i # Locked by deploy/lock.sh from requirements-cloud.in (do not edit by hand).' \
  requirements-cloud.txt
