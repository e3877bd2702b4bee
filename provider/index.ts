export { SysctlSet, SysctlSetArgs, SettingValue } from "./sysctl/resource";
export { ConnectionArgs, ProxyConnectionArgs } from "./transport/connection";
export { CpuGovernor, CpuGovernorArgs } from "./cpu-governor/resource";
export { NicRingConfig, NicRingConfigArgs } from "./nic/resource";
export { IrqAffinity, IrqAffinityArgs } from "./irq/resource";
export { HostTuning, HostTuningArgs } from "./host-tuning/resource";
export { WaveGate, WaveGateArgs, HealthCheckArgs, RolloutVerdict } from "./wave-gate/resource";
export { normalise, satisfies } from "./sysctl/values";
export { describeDesired } from "./sysctl/plan";
