export { SysctlSet, SysctlSetArgs, SettingValue } from "./sysctl/resource";
export { ConnectionArgs, ProxyConnectionArgs } from "./transport/connection";
