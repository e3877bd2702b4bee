export * from "./profile/plan";
export * from "./profile/sources";
export { ProfileHostArgs, TuningProfile } from "./profile/tuning-profile";
export * from "./low-latency";
export * from "./high-throughput";
export * from "./sip-router";
export * from "./high-connection-rate";
export * from "./composed";
export * from "./fleet";
