export * from "./plans";
export * from "./profile";
export * from "./profiles";
export * from "./sources";
export { ProfileHostArgs, TuningProfile } from "./tuning-profile";
