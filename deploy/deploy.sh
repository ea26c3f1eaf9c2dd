#!/usr/bin/env bash
# Deploy btm-ppa to Google Cloud: service account and IAM, BigQuery dataset and tables,
# the three gen2 HTTP functions, and the nightly Cloud Scheduler job.
#
#   deploy/deploy.sh --dry-run          print every command, run none
#   deploy/deploy.sh                    run them (gcloud and bq logged in, project set)
#
# Settings (environment): PROJECT (required), REGION (europe-west2), DATASET (btm_ppa),
# APPS_SCRIPT_CLIENT_ID (the OAuth client id of the sheet's Apps Script project: the
# audience of its identity tokens), ALLOWED_CALLERS (emails and @domains, comma separated),
# SCHEDULE (cron, default 04:30 Europe/London).
set -euo pipefail

DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1

PROJECT="${PROJECT:-my-gcp-project}"
REGION="${REGION:-europe-west2}"
DATASET="${DATASET:-btm_ppa}"
SA_NAME="${SA_NAME:-btm-ppa-fn}"
SA="${SA_NAME}@${PROJECT}.iam.gserviceaccount.com"
SCHEDULER_SA="${SCHEDULER_SA_NAME:-btm-ppa-scheduler}@${PROJECT}.iam.gserviceaccount.com"
APPS_SCRIPT_CLIENT_ID="${APPS_SCRIPT_CLIENT_ID:-APPS-SCRIPT-OAUTH-CLIENT-ID}"
ALLOWED_CALLERS="${ALLOWED_CALLERS:-@example.com}"
SCHEDULE="${SCHEDULE:-30 4 * * *}"
RUNTIME=python312
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STAGE="${STAGE:-$ROOT/build/function-source}"
URL_BASE="https://${REGION}-${PROJECT}.cloudfunctions.net"

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [[ $DRY_RUN == 0 ]]; then "$@"; fi
}

# 1. The function source: functions/ with the layout and a requirements.txt, staged.
stage() {
  echo "# stage the function source in $STAGE"
  if [[ $DRY_RUN == 0 ]]; then
    rm -rf "$STAGE" && mkdir -p "$STAGE"
    cp -r "$ROOT/functions/." "$STAGE/"
    # Local build products are for this machine's Python, not the runtime's: the staged
    # source carries none, and dispatch then solves its LP with HiGHS (see README).
    find "$STAGE" \( -name '__pycache__' -o -name '*.so' -o -name '_network_simplex.c' \) \
      -prune -exec rm -rf {} +
    cp -r "$ROOT/sheets_layout" "$STAGE/sheets_layout"
    python3 "$HERE/requirements.py" "$ROOT/pyproject.toml" > "$STAGE/requirements.txt"
  fi
}

run gcloud config set project "$PROJECT"
run gcloud services enable cloudfunctions.googleapis.com run.googleapis.com \
  cloudbuild.googleapis.com artifactregistry.googleapis.com bigquery.googleapis.com \
  sheets.googleapis.com cloudscheduler.googleapis.com

# 2. Service accounts: one the functions run as (shares of spreadsheets go to it), one
#    the scheduler calls with.
run gcloud iam service-accounts create "$SA_NAME" --display-name="btm-ppa functions"
run gcloud iam service-accounts create "${SCHEDULER_SA%%@*}" --display-name="btm-ppa scheduler"
run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$SA" \
  --role=roles/bigquery.jobUser
run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$SA" \
  --role=roles/bigquery.dataEditor

# 3. BigQuery: the dataset, prices partitioned by settlement date, the registry.
run bq --location=EU mk --dataset --description="btm-ppa prices and registry" "$PROJECT:$DATASET"
run bq mk --table --time_partitioning_field=settlement_date --time_partitioning_type=DAY \
  --description="GB system prices per settlement period" \
  "$PROJECT:$DATASET.system_prices" "$HERE/bigquery/system_prices.json"
run bq mk --table --description="spreadsheets the nightly job refreshes" \
  "$PROJECT:$DATASET.spreadsheet_registry" "$HERE/bigquery/spreadsheet_registry.json"

# 4. The functions (gen2, HTTP, no unauthenticated access; tokens checked in code too).
stage
# "^|^" makes | the separator of --set-env-vars, so values keep their commas.
ENV="BTM_PPA_BIGQUERY_DATASET=${PROJECT}.${DATASET}|BTM_PPA_SERVICE_ACCOUNT=${SA}"
ENV="${ENV}|BTM_PPA_ALLOWED_CALLERS=${ALLOWED_CALLERS}"
for fn in refresh ingest_prices scheduled_refresh vlp_register; do
  timeout=300; [[ $fn == scheduled_refresh ]] && timeout=1800
  run gcloud functions deploy "$fn" --gen2 --runtime="$RUNTIME" --region="$REGION" \
    --source="$STAGE" --entry-point="$fn" --trigger-http --no-allow-unauthenticated \
    --service-account="$SA" --memory=1Gi --timeout="${timeout}s" \
    --set-env-vars="^|^${ENV}|BTM_PPA_AUDIENCES=${URL_BASE}/${fn},${APPS_SCRIPT_CLIENT_ID}"
done
# Apps Script identity tokens carry the script's OAuth client id as audience: let the
# service accept it (the code checks it too).
run gcloud run services update refresh --region="$REGION" \
  --add-custom-audiences="$APPS_SCRIPT_CLIENT_ID"

# 5. Who may invoke: the scheduler's account; the add-on's users through Apps Script
#    (their identity tokens are checked in code against ALLOWED_CALLERS).
for fn in ingest_prices scheduled_refresh vlp_register; do
  run gcloud functions add-invoker-policy-binding "$fn" --region="$REGION" \
    --member="serviceAccount:$SCHEDULER_SA"
done
IFS=',' read -ra callers <<< "$ALLOWED_CALLERS"
for caller in "${callers[@]}"; do
  if [[ $caller == @* ]]; then member="domain:${caller#@}"; else member="user:$caller"; fi
  run gcloud functions add-invoker-policy-binding refresh --region="$REGION" --member="$member"
done

# 6. Nightly: ingest the latest prices and refresh every registered spreadsheet.
run gcloud scheduler jobs create http btm-ppa-nightly --location="$REGION" \
  --schedule="$SCHEDULE" --time-zone="Europe/London" \
  --uri="${URL_BASE}/scheduled_refresh" --http-method=POST \
  --headers="Content-Type=application/json" --message-body='{}' \
  --oidc-service-account-email="$SCHEDULER_SA" --oidc-token-audience="${URL_BASE}/scheduled_refresh" \
  --attempt-deadline=1800s

echo "# then: clasp push (deploy/apps_script, see the README) and set the script property"
echo "#   REFRESH_URL=${URL_BASE}/refresh"
