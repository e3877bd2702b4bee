export { Fleet, FleetArgs } from "./fleet";
export { FleetConfig, FleetConfigError, parseFleetConfig } from "./inventory";
export { HostRecord, WaveSummary } from "./report";
export { fleetProgram } from "./program";
