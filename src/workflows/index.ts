// Every export here becomes a workflow type on the worker: export workflow functions only.
export { firstStart } from './first-start';
export { fleetUpgrade } from './fleet-upgrade';
export { inAppMaintenance } from './in-app-maintenance';
export { scheduledProcedure } from './scheduled-procedure';
export { versionUpgrade } from './version-upgrade';
