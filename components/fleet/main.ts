// The default program: `pulumi up` in this project rolls out the fleet described by the stack's config.
import { fleetProgram } from "./program";

export = fleetProgram();
