/**
 * The backend the add-on calls: the refresh function's URL. deploy/deploy.sh writes it
 * here once for every user of the add-on; empty means "use the add-on project's script
 * property REFRESH_URL" (Project settings > Script properties, set by the developer).
 */
var BTM_BACKEND_URL = '';
