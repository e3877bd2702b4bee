import { posix } from "path";
import { CheckFailure, propertyPath } from "../check";
import { holdsText, linkedOwnFile } from "../host/files";
import { itemsOf } from "../host/ledger";
import { ABSENT, ManagedFiles, PathContent, changeAt, fileContent, fileOf, forget, manage, planRestore, releaseUnusedDirs } from "../host/restore";
import { parameterValueProblem, sameLiveValue, sameValueAs } from "./parameter-types";
import { FileAction, KERNEL_COMMAND_LINE, ModuleChanges, ModuleOptionsLine, ModuleSnapshot } from "./remote";
import { ModuleSpec } from "./schema";

export type ModuleState = "loaded" | "built-in" | "not loaded";

export function moduleState(name: string, snapshot: ModuleSnapshot): ModuleState {
    return snapshot.builtin.has(name) ? "built-in" : snapshot.loaded.has(name) ? "loaded" : "not loaded";
}

export function liveStates(names: readonly string[], snapshot: ModuleSnapshot): Record<string, ModuleState> {
    return Object.fromEntries(names.map((name) => [name, moduleState(name, snapshot)]));
}

/** What create/update would refuse on this host, as check failures naming the property and the host. */
export function moduleProblems(specs: readonly ModuleSpec[], snapshot: ModuleSnapshot, target: string): CheckFailure[] {
    const problems: CheckFailure[] = [];
    const toLoad = specs.filter((s) => moduleState(s.name, snapshot) === "not loaded");
    if (toLoad.length > 0 && !snapshot.modprobe) {
        return [{ property: "modules", reason: `${target}: has no modprobe (kmod not installed, or a kernel without module support), so ${toLoad.map((s) => s.name).join(", ")} cannot be loaded` }];
    }
    specs.forEach((spec, i) => {
        const state = moduleState(spec.name, snapshot);
        const probe = snapshot.probe.get(spec.name);
        const resolved = snapshot.resolvesTo.get(spec.name) ?? [];
        if (state !== "built-in" && resolved.length > 0 && !resolved.includes(spec.name)) {
            // Loading by alias works, but /sys/module knows only the module: it would never show as loaded.
            problems.push({
                property: `modules[${i}]`,
                reason: `${target}: ${spec.name} is an alias of the kernel module ${resolved.join(", ")} (modprobe -R ${spec.name}): declare ${resolved.join(", ")}, the name the kernel lists in /sys/module`,
            });
        } else if (state === "not loaded" && probe && !probe.ok) {
            problems.push({ property: `modules[${i}]`, reason: `${target}: kernel module ${spec.name} is not available on this host: ${probe.message || "modprobe -n failed"}` });
        } else if (state === "not loaded" && probe && disablingRule(probe.message)) {
            problems.push({
                property: `modules[${i}]`,
                reason: `${target}: kernel module ${spec.name} is disabled on this host: a modprobe.d install rule has modprobe run "${disablingRule(probe.message)}" instead of loading it (modprobe -n -v ${spec.name}); remove that install rule to use it`,
            });
        } else if (state === "built-in" && Object.keys(spec.parameters).length > 0) {
            const example = Object.entries(spec.parameters).map(([p, v]) => `${spec.name}.${p}=${v}`).join(" ");
            problems.push({
                property: `modules[${i}].parameters`,
                reason: `${target}: ${spec.name} is built into the kernel (modules.builtin of ${snapshot.release}), so its parameters can only be set on the kernel command line (${example})`,
            });
        } else {
            problems.push(...parameterProblems(spec, i, snapshot, target));
        }
    });
    return problems;
}

/**
 * The `install NAME /bin/true` (or false) rule that hardening guides use to keep a module from
 * loading, as `modprobe -n -v` prints it; other install commands may well load the module.
 */
function disablingRule(probeOutput: string): string | undefined {
    return /(?:^|\s)(install\s+(?:(?:\/usr)?\/bin\/)?(?:true|false))(?=\s|$)/.exec(probeOutput)?.[1];
}

/**
 * Parameters the module does not take (the kernel logs "unknown parameter ignored" and loads it
 * anyway), and values its type's parser refuses (the load fails, or the next boot's).
 */
function parameterProblems(spec: ModuleSpec, index: number, snapshot: ModuleSnapshot, target: string): CheckFailure[] {
    const described = snapshot.parameterNames.get(spec.name);
    if (!described) {
        return [];
    }
    // A parameter declared without type or description is missing from modinfo but shows in /sys once loaded.
    const known = new Set([...described, ...Object.keys(snapshot.parameters.get(spec.name) ?? {})]);
    const listed = [...known].join(", ") || "none";
    const types = snapshot.parameterTypes.get(spec.name);
    return Object.entries(spec.parameters).flatMap(([p, value]) => {
        const property = propertyPath(["modules", index, "parameters", p]);
        if (!known.has(p)) {
            return [{ property, reason: `${target}: ${spec.name} has no parameter ${p} (modinfo -F parm ${spec.name} lists ${listed}): the kernel would ignore it` }];
        }
        const type = types?.get(p);
        const problem = type && parameterValueProblem(type, String(value));
        return problem ? [{ property, reason: `${target}: ${spec.name}.${p} (${type}) ${problem}; got ${JSON.stringify(String(value))}` }] : [];
    });
}

/** What KernelModule keeps in state besides its inputs. */
export interface ModuleRecord {
    /** Each declared module's state before this resource first touched it. */
    originals: Record<string, ModuleState>;
    /** Declared module → the modules its load brought in (itself, dependencies): exactly what delete unloads. */
    loadedByUs: Record<string, string[]>;
    /**
     * A module dropped from `modules` → what of its loads rmmod refused (in use): still this
     * resource's to unload, by the next update or the delete.
     */
    stillToUnload?: Record<string, string[]>;
    /** The persistence files as they were before this resource, and the directories it created. */
    managedFiles?: ManagedFiles;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
    /** The parameter files of what it declares (/sys/module/NAME/parameters/P): a SysfsSet writing one would fight it. */
    parameterFiles?: string[];
    /** Declared parameters the kernel took otherwise when this resource set them (see kernelAdjustments). */
    adjusted?: ParameterAdjustments;
}

/** Module → parameter → the value declared and the one the kernel kept when given it. */
export type ParameterAdjustments = Record<string, Record<string, { declared: string; live: string }>>;

/**
 * Whether a parameter's live value holds the declared one: the same value in the kernel's own
 * spelling, or the value the kernel itself made of that declared one when this resource set it.
 */
export function holdsDeclared(type: string | undefined, live: string, declared: string, adjustment: { declared: string; live: string } | undefined): boolean {
    return sameLiveValue(type, live, declared) || (adjustment?.declared === declared && adjustment.live === live);
}

/**
 * Declared parameters that read back otherwise right after this resource set them (loaded the
 * module with them, or wrote them at run time): the kernel's own adjustment, not drift. ip_vs
 * clamps conn_tab_bits to what the host's memory allows (ip_vs_conn_init), nf_conntrack rounds
 * hashsize up to whole pages of buckets; writing the declared value again would only be adjusted
 * again (and rehash a live table each time). An adjustment recorded earlier stays while the
 * declared value and the live one are unchanged.
 */
export function kernelAdjustments(
    specs: readonly ModuleSpec[],
    live: (name: string) => Record<string, string> | undefined,
    types: ModuleSnapshot["parameterTypes"],
    setNow: (name: string, parameter: string) => boolean,
    known: ParameterAdjustments | undefined,
): ParameterAdjustments {
    const adjusted: ParameterAdjustments = {};
    for (const spec of specs) {
        for (const [parameter, declared] of Object.entries(spec.parameters)) {
            const value = live(spec.name)?.[parameter];
            if (value === undefined || sameLiveValue(types.get(spec.name)?.get(parameter), value, declared)) {
                continue;
            }
            const earlier = known?.[spec.name]?.[parameter];
            if (setNow(spec.name, parameter) || (earlier?.declared === declared && earlier.live === value)) {
                adjusted[spec.name] = { ...adjusted[spec.name], [parameter]: { declared, live: value } };
            }
        }
    }
    return adjusted;
}

/** A warning for each adjustment the kernel made anew (not one already recorded with the same live value). */
export function newAdjustmentWarnings(adjusted: ParameterAdjustments, recorded: ParameterAdjustments | undefined, target: string): string[] {
    return Object.entries(adjusted).flatMap(([name, params]) =>
        Object.entries(params)
            .filter(([p, { live }]) => recorded?.[name]?.[p]?.live !== live)
            .map(([p, { declared, live }]) => `${target}: the kernel made ${name}.${p} ${live} when given ${declared} (its own limit or rounding); ${live} now counts as the declared ${declared}, not as drift`),
    );
}

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/kernel-module. */
export const LEDGER_KIND = "kernel-module";

/**
 * What the ledger holds: the record as it is before the apply, and every module loaded then. What
 * a load brings in is only known after it, so a create recovering the ledger of a run killed
 * after its loads tells them apart by this list (see recoveredLoads).
 */
export interface LedgeredModuleRecord extends ModuleRecord {
    loadedBefore: string[];
}

export const ledgerRecord = (record: ModuleRecord, snapshot: ModuleSnapshot): LedgeredModuleRecord => ({ ...record, loadedBefore: [...snapshot.loaded.keys()].sort() });

/**
 * What a record changes on the host, as its ledger lists it: each declared module and each one
 * its loads brought in (`module:NAME`; another resource's delete would unload it, or this one's
 * would unload theirs), and the persistence files.
 */
export function moduleItems(record: ModuleRecord): string[] {
    const modules = [...Object.keys(record.originals), ...Object.values(record.loadedByUs).flat(), ...Object.values(record.stillToUnload ?? {}).flat()];
    return itemsOf([...[...new Set(modules)].map((name) => `module:${name}`), ...(record.parameterFiles ?? [])], record.managedFiles);
}

/** The modules `name` uses, directly or through others, as /sys/module/DEP/holders shows. */
function dependenciesOf(name: string, snapshot: ModuleSnapshot, seen = new Set<string>()): string[] {
    for (const [dep, info] of snapshot.loaded) {
        if (info.holders.includes(name) && !seen.has(dep)) {
            seen.add(dep);
            dependenciesOf(dep, snapshot, seen);
        }
    }
    return [...seen];
}

/**
 * The record a create takes over from its ledger. A declared module the ledger found not loaded
 * and that is loaded now was loaded by the interrupted run: it is this resource's to unload, with
 * the dependencies that were not loaded before it, exactly as if the run had reported its load.
 * So is each module the run added to the ledger's items as it loaded it (`items`), loaded now and
 * not before, though no holder link ties it to a declared one (a softdep, an install rule's):
 * it goes with the first declared module that run loaded.
 */
export function recoveredLoads(record: LedgeredModuleRecord, snapshot: ModuleSnapshot, items: readonly string[] = []): ModuleRecord {
    const { loadedBefore, ...written } = record;
    const recovered = items.length > 0 ? withoutUnloaded(written, items) : written;
    const before = new Set(loadedBefore);
    const loadedByUs = { ...recovered.loadedByUs };
    const loadedByRun: string[] = [];
    for (const [name, original] of Object.entries(recovered.originals)) {
        if (original === "not loaded" && snapshot.loaded.has(name) && !loadedByUs[name]) {
            loadedByUs[name] = [name, ...dependenciesOf(name, snapshot).filter((dep) => !before.has(dep))];
            loadedByRun.push(name);
        }
    }
    const known = new Set([...Object.values(loadedByUs).flat(), ...Object.values(recovered.stillToUnload ?? {}).flat()]);
    const unattributed = items
        .filter((item) => item.startsWith("module:"))
        .map((item) => item.slice("module:".length))
        .filter((name) => snapshot.loaded.has(name) && !before.has(name) && !known.has(name));
    if (unattributed.length > 0 && loadedByRun.length > 0) {
        loadedByUs[loadedByRun[0]] = [...loadedByUs[loadedByRun[0]], ...unattributed];
    }
    return { ...recovered, loadedByUs };
}

/**
 * A ledger's record without the modules the apply that wrote it unloaded since: the program takes
 * each one out of the ledger's items as it unloads it, while the record keeps the list it started
 * with. Else a later update or delete would take them for its own again, and unload them once
 * something else has loaded them.
 */
function withoutUnloaded(record: ModuleRecord, items: readonly string[]): ModuleRecord {
    const claimed = new Set(items.filter((item) => item.startsWith("module:")).map((item) => item.slice("module:".length)));
    const still = (lists: Record<string, string[]>) =>
        Object.fromEntries(Object.entries(lists).map(([name, modules]) => [name, modules.filter((m) => claimed.has(m))]).filter(([, modules]) => modules.length > 0));
    const stillToUnload = record.stillToUnload && still(record.stillToUnload);
    return { ...record, loadedByUs: still(record.loadedByUs), stillToUnload: stillToUnload && Object.keys(stillToUnload).length > 0 ? stillToUnload : undefined };
}

/**
 * Only the loads that are this resource's: a declared module whose original is not "not loaded"
 * (something else loaded it while the apply ran) is the host's, whatever a ledger written before
 * that apply says its run loaded.
 */
export function ownLoadsOnly(record: ModuleRecord): ModuleRecord {
    const loadedByUs = Object.fromEntries(Object.entries(record.loadedByUs).filter(([name]) => record.originals[name] === undefined || record.originals[name] === "not loaded"));
    return { ...record, loadedByUs };
}

export interface ModulePlan {
    changes: ModuleChanges;
    record: ModuleRecord;
    /** Content this resource wants in each persistence file (null: none). */
    wanted: { load: string | null; options: string | null };
    warnings: string[];
}

const header = (resourceName: string, what: string) => `# Managed by pulumi-linux-tuning (KernelModule "${resourceName.replace(/[\r\n]/g, " ")}"): ${what}.`;

export function renderLoadFile(resourceName: string, specs: readonly ModuleSpec[]): string {
    return [header(resourceName, "loaded at boot by systemd-modules-load"), ...specs.map((s) => s.name)].join("\n") + "\n";
}

/** The modprobe.d options file, or null when no module has parameters. */
export function renderOptionsFile(resourceName: string, specs: readonly ModuleSpec[]): string | null {
    const lines = specs.filter((s) => Object.keys(s.parameters).length > 0).map((s) => `options ${s.name} ${Object.entries(s.parameters).map(([p, v]) => `${p}=${v}`).join(" ")}`);
    return lines.length > 0 ? [header(resourceName, "used by modprobe whenever these modules load"), ...lines].join("\n") + "\n" : null;
}

const contentOf = (snapshot: ModuleSnapshot, path: string): PathContent => {
    const file = snapshot.files.get(path);
    return file === null || file === undefined ? ABSENT : fileOf(file);
};

/**
 * The modules `loadedByUs` lists for `names`, later declared modules first, each once; rmmod
 * refuses a module still in use, so the apply program retries until nothing more unloads.
 */
export function unloadOrder(loadedByUs: Record<string, string[]>, names: readonly string[]): string[] {
    return [...new Set([...names].reverse().flatMap((name) => loadedByUs[name] ?? []))];
}

/** `pending` with only the modules `keep` accepts; undefined when none is left. */
export function pendingUnloads(pending: Record<string, string[]>, keep: (module: string) => boolean): Record<string, string[]> | undefined {
    const left = Object.entries(pending)
        .map(([name, modules]) => [name, modules.filter(keep)] as const)
        .filter(([, modules]) => modules.length > 0);
    return left.length > 0 ? Object.fromEntries(left) : undefined;
}

/**
 * Loads in declared order, except that a declared module another one's load would insert as a
 * dependency goes first: modprobe ignores the parameters of a module already in, so it must be
 * loaded by its own command line. (With persist, the options file written first does this too.)
 */
export function dependenciesFirst<L extends { name: string }>(loads: readonly L[], snapshot: ModuleSnapshot): L[] {
    const ordered: L[] = [];
    const visit = (load: L, path: Set<string>) => {
        if (ordered.includes(load) || path.has(load.name)) {
            return;
        }
        for (const dep of snapshot.inserts.get(load.name) ?? []) {
            const declared = loads.find((l) => l.name === dep && l !== load);
            if (declared) {
                visit(declared, new Set([...path, load.name]));
            }
        }
        ordered.push(load);
    };
    loads.forEach((load) => visit(load, new Set()));
    return ordered;
}

/** The persistence files this resource would write that are symbolic links on the host. */
export function linkedFiles(persist: boolean, files: { load: string; options: string }, snapshot: ModuleSnapshot, target: string): CheckFailure[] {
    return [files.load, files.options].flatMap((path) => {
        const linked = linkedOwnFile(path, snapshot.links.get(path), persist);
        return linked ? [{ property: "persist", reason: `${target}: ${linked}` }] : [];
    });
}

/**
 * Create and update: load what is not loaded, unload what a dropped module brought in (when it
 * was this resource that loaded it), write the persistence files. Modules loaded before this
 * resource, or built in, are recorded as such and never unloaded by it.
 */
export function planModules(
    specs: readonly ModuleSpec[],
    options: { resourceName: string; persist: boolean; restoreOnDelete: boolean },
    snapshot: ModuleSnapshot,
    files: { load: string; options: string },
    target: string,
    previous?: ModuleRecord,
): ModulePlan {
    const problems = [...moduleProblems(specs, snapshot, target), ...linkedFiles(options.persist, files, snapshot, target)];
    if (problems.length > 0) {
        throw new Error(`${problems.map((p) => `${p.property}: ${p.reason}`).join("; ")}. Nothing was changed.`);
    }
    const warnings: string[] = [];
    const parameters: ModuleChanges["parameters"] = [];
    const names = specs.map((s) => s.name);
    const originals: Record<string, ModuleState> = {};
    const loadedByUs: Record<string, string[]> = {};
    // A module an earlier load of this resource brought in as a dependency, declared now: it is
    // still ours to unload, not one that was loaded before.
    const broughtIn = new Set([...Object.values(previous?.loadedByUs ?? {}), ...Object.values(previous?.stillToUnload ?? {})].flat());
    for (const spec of specs) {
        const ours = previous?.originals[spec.name] === undefined && broughtIn.has(spec.name) && snapshot.loaded.has(spec.name);
        // Declared again while what its earlier load brought in waits to be unloaded: all of it is its own again.
        const stillOwned = (previous?.stillToUnload?.[spec.name] ?? []).filter((m) => snapshot.loaded.has(m));
        originals[spec.name] = previous?.originals[spec.name] ?? (ours || stillOwned.length > 0 ? "not loaded" : moduleState(spec.name, snapshot));
        if (previous?.loadedByUs[spec.name]) {
            loadedByUs[spec.name] = previous.loadedByUs[spec.name];
        } else if (stillOwned.length > 0) {
            loadedByUs[spec.name] = stillOwned;
        } else if (ours) {
            loadedByUs[spec.name] = [spec.name];
        }
        const live = snapshot.parameters.get(spec.name) ?? {};
        const differing = Object.entries(spec.parameters).filter(
            ([p, v]) => snapshot.loaded.has(spec.name) && live[p] !== undefined && !holdsDeclared(snapshot.parameterTypes.get(spec.name)?.get(p), live[p], v, previous?.adjusted?.[spec.name]?.[p]),
        );
        // A module this resource loaded must hold what it declares: written where the kernel lets
        // a parameter change at run time. One loaded before it keeps its values until next loaded.
        const loadedHere = loadedByUs[spec.name] !== undefined;
        const writable = snapshot.writableParameters.get(spec.name);
        const written = loadedHere ? differing.filter(([p]) => writable?.has(p)) : [];
        parameters.push(...written.map(([parameter, value]) => ({ name: spec.name, parameter, value })));
        const left = differing.filter((d) => !written.includes(d));
        if (left.length > 0) {
            const why = loadedHere ? "read-only at run time, so it" : "already loaded, and";
            warnings.push(`${target}: ${spec.name} is ${why} keeps ${left.map(([p]) => `${p}=${live[p]}`).join(" ")}; ${left.map(([p, v]) => `${p}=${v}`).join(" ")} applies when it is next loaded`);
        }
    }
    // What dropped modules brought in, and what an earlier update could not unload yet; never what
    // is still declared, nor what a declared module brought in.
    const pending: Record<string, string[]> = { ...previous?.stillToUnload };
    for (const name of Object.keys(previous?.originals ?? {}).filter((n) => !names.includes(n))) {
        pending[name] = [...new Set([...(pending[name] ?? []), ...(previous?.loadedByUs[name] ?? [])])];
    }
    const kept = new Set([...names, ...Object.values(loadedByUs).flat()]);
    const releasing = [...new Set(Object.values(pending).flat())].filter((m) => snapshot.loaded.has(m) && !kept.has(m));
    const forOthers = keptForOthers(releasing, snapshot, target);
    warnings.push(...(options.restoreOnDelete ? forOthers.warnings : []));
    const stillToUnload = options.restoreOnDelete ? pendingUnloads(pending, (m) => releasing.includes(m) && !forOthers.kept.has(m)) : undefined;
    const unload = unloadOrder(stillToUnload ?? {}, Object.keys(stillToUnload ?? {}));
    const load = dependenciesFirst(
        specs
            .filter((s) => moduleState(s.name, snapshot) === "not loaded")
            .map((s) => ({ name: s.name, parameters: s.parameters, ours: originals[s.name] === "not loaded", brings: [...new Set([...(snapshot.inserts.get(s.name) ?? []), s.name])] })),
        snapshot,
    );

    const parameterFiles = specs.flatMap((s) => Object.keys(s.parameters).map((p) => `/sys/module/${s.name}/parameters/${p}`));
    const wanted = options.persist ? { load: renderLoadFile(options.resourceName, specs), options: renderOptionsFile(options.resourceName, specs) } : { load: null, options: null };
    if (options.persist) {
        warnings.push(...blacklistedAtBoot(specs.filter((spec) => !snapshot.builtin.has(spec.name)), snapshot.blacklist, files.load, target), ...overriddenAtBoot(specs, snapshot.otherOptions, files.options, snapshot.parameterTypes, target));
    }
    let managed = previous?.managedFiles;
    const actions: Record<string, FileAction> = {};
    const stale: string[] = [];
    for (const [path, content] of [[files.load, wanted.load], [files.options, wanted.options]] as const) {
        if (content !== null) {
            managed = manage(managed, (p) => contentOf(snapshot, p), { [path]: fileContent(content) });
            actions[path] = holdsText(snapshot.files.get(path), content) ? undefined : { content };
        } else if (managed && path in managed.originals) {
            stale.push(path);
        }
    }
    let rmdir: string[] = [];
    if (managed && stale.length > 0) {
        const restore = planRestore(managed, (p) => contentOf(snapshot, p), target, { paths: stale });
        warnings.push(...restore.warnings);
        stale.forEach((path) => (actions[path] = changeAt(restore.changes, path)));
        ({ managed, rmdir } = releaseUnusedDirs(forget(managed, stale)));
    }
    return {
        changes: { load, parameters, unload, files: { load: actions[files.load], options: actions[files.options] }, rmdir },
        record: { originals, loadedByUs, ...(stillToUnload && { stillToUnload }), managedFiles: managed, ...(parameterFiles.length > 0 && { parameterFiles }), ...(previous?.adjusted && { adjusted: previous.adjusted }) },
        wanted,
        warnings,
    };
}

/**
 * Of modules this resource would unload, those another modules-load.d file loads at boot stay,
 * each with a warning: something on the host has come to rely on it since (kubeadm's
 * br_netfilter), and a module in use by a rule or a bridge may have no reference rmmod sees.
 */
function keptForOthers(modules: readonly string[], snapshot: ModuleSnapshot, target: string): { unload: string[]; kept: Set<string>; warnings: string[] } {
    const listed = modules.filter((m) => snapshot.loadedElsewhere.has(m));
    // Every loaded module the boot loads stays, and what it uses with it (bridge under
    // br_netfilter), whether that module is one of these or not: rmmod would refuse it at every run.
    const kept = new Set([...snapshot.loadedElsewhere.keys()].filter((m) => snapshot.loaded.has(m)));
    for (let grew = true; grew; ) {
        grew = false;
        for (const m of modules) {
            if (!kept.has(m) && (snapshot.loaded.get(m)?.holders ?? []).some((holder) => kept.has(holder))) {
                kept.add(m);
                grew = true;
            }
        }
    }
    const used = modules.filter((m) => kept.has(m) && !listed.includes(m));
    return {
        unload: modules.filter((m) => !kept.has(m)),
        kept,
        warnings: [
            ...listed.map((m) => `${target}: left ${m} loaded: ${snapshot.loadedElsewhere.get(m)} loads it at boot too, so something on this host relies on it`),
            ...(used.length > 0 ? [`${target}: left ${used.join(", ")} loaded too: in use by what stays`] : []),
        ],
    };
}

/** Delete: what this resource loaded is unloaded (unless in use, or loaded at boot by another file), the files go back as they were. */
export function planModulesRestore(record: ModuleRecord, snapshot: ModuleSnapshot, files: { load: string; options: string }, restore: boolean, target: string): { changes: ModuleChanges; warnings: string[] } {
    const pending = record.stillToUnload ?? {};
    const ours = restore ? [...new Set([...unloadOrder(pending, Object.keys(pending)), ...unloadOrder(record.loadedByUs, Object.keys(record.originals))])].filter((m) => snapshot.loaded.has(m)) : [];
    const { unload, warnings } = keptForOthers(ours, snapshot, target);
    if (!record.managedFiles) {
        return { changes: { load: [], parameters: [], unload, files: { load: undefined, options: undefined }, rmdir: [] }, warnings };
    }
    const plan = planRestore(record.managedFiles, (p) => contentOf(snapshot, p), target, { removeDirs: true });
    return { changes: { load: [], parameters: [], unload, files: { load: changeAt(plan.changes, files.load), options: changeAt(plan.changes, files.options) }, rmdir: plan.changes.rmdir ?? [] }, warnings: [...warnings, ...plan.warnings] };
}

const shown = (parameter: string, value: string) => (value === "" ? parameter : `${parameter}=${value}`);

/**
 * Declared parameters another modprobe.d file sets otherwise and wins at boot: kmod reads every
 * directory's files as one list sorted by name, then the kernel command line's MODULE.PARAM=VALUE,
 * and a parameter given twice ends as the last one (the kernel's parse_args), so a file sorting
 * after this resource's, or the command line, decides. (An apply's `modprobe NAME p=v` passes
 * the declared values after all of them.) `others` are the files kmod reads (the read leaves out
 * those a same-named file hides); values are compared as the parameter's type reads them.
 */
export function overriddenAtBoot(specs: readonly ModuleSpec[], others: readonly ModuleOptionsLine[], ownFile: string, types: ModuleSnapshot["parameterTypes"], target: string): string[] {
    const order = (line: ModuleOptionsLine) => (line.file === KERNEL_COMMAND_LINE ? "\uffff" : posix.basename(line.file));
    const later = others.filter((line) => order(line) > posix.basename(ownFile));
    return specs.flatMap((spec) =>
        Object.entries(spec.parameters).flatMap(([parameter, value]) => {
            const last = later.filter((line) => line.module === spec.name && line.parameters[parameter] !== undefined).sort((a, b) => (order(a) < order(b) ? -1 : 1)).pop();
            const theirs = last?.parameters[parameter];
            if (!last || theirs === undefined || sameValueAs(types.get(spec.name)?.get(parameter), theirs, value)) {
                return [];
            }
            const where =
                last.file === KERNEL_COMMAND_LINE
                    ? `the kernel command line sets ${spec.name}.${shown(parameter, theirs)}, which kmod applies after every modprobe.d file`
                    : `${last.file} also sets ${spec.name} ${shown(parameter, theirs)} and comes after ${ownFile} in modprobe's order`;
            return [`${target}: ${where}, so at boot ${spec.name} loads with ${shown(parameter, theirs)}, not ${value}`];
        }),
    );
}

/**
 * Declared modules blacklisted on the host: `modprobe NAME`, as an apply loads them, ignores a
 * blacklist, but systemd-modules-load applies it and skips the module, so the persisted load does
 * not happen at boot (unless another module pulls it in).
 */
export function blacklistedAtBoot(specs: readonly ModuleSpec[], blacklist: ModuleSnapshot["blacklist"], loadFile: string, target: string): string[] {
    return specs.flatMap((spec) => {
        const by = blacklist.find((entry) => entry.module === spec.name);
        const where = by?.file === KERNEL_COMMAND_LINE ? "the kernel command line's modprobe.blacklist=" : by?.file;
        return by ? [`${target}: ${where} blacklists ${spec.name}, and systemd-modules-load skips a blacklisted module, so at boot ${loadFile} does not load it (modprobe, as this resource loads it now, ignores the blacklist)`] : [];
    });
}

/** modinfo's type of each declared parameter that has one, by module: what tells a live value's spelling from a change. */
export type ParameterTypes = Record<string, Record<string, string>>;

export function declaredParameterTypes(specs: readonly ModuleSpec[], types: ModuleSnapshot["parameterTypes"]): ParameterTypes {
    return Object.fromEntries(
        specs
            .map((spec) => [spec.name, Object.fromEntries(Object.keys(spec.parameters).flatMap((p) => (types.get(spec.name)?.has(p) ? [[p, types.get(spec.name)!.get(p)!]] : [])))] as const)
            .filter(([, typed]) => Object.keys(typed).length > 0),
    );
}

/**
 * Parameters of the modules this resource loaded that no longer hold what it declares (changed at
 * run time, or the module loaded again with other options): `NAME.P live X, desired Y`.
 */
export function parameterDrift(
    specs: readonly ModuleSpec[],
    live: (name: string) => Record<string, string> | undefined,
    loadedByUs: Record<string, string[]>,
    types: ParameterTypes,
    adjusted: ParameterAdjustments | undefined,
): string[] {
    return specs
        .filter((spec) => loadedByUs[spec.name] !== undefined)
        .flatMap((spec) => {
            const values = live(spec.name) ?? {};
            return Object.entries(spec.parameters)
                .filter(([p, v]) => values[p] !== undefined && !holdsDeclared(types[spec.name]?.[p], values[p], v, adjusted?.[spec.name]?.[p]))
                .map(([p, v]) => `${spec.name}.${p} live ${values[p]}, desired ${v}`);
        });
}

/** How the host differs from what this resource set up, per module and per file (empty: as declared). */
export function moduleDrift(names: readonly string[], snapshot: ModuleSnapshot, files: { load: string; options: string }, wanted: { load: string | null; options: string | null }): string[] {
    const drift = names.filter((name) => moduleState(name, snapshot) === "not loaded").map((name) => `${name} is not loaded`);
    for (const [path, content] of [[files.load, wanted.load], [files.options, wanted.options]] as const) {
        const now = snapshot.files.get(path) ?? null;
        if (content !== null && !holdsText(now, content)) {
            drift.push(`${path} is ${now === null ? "missing" : "edited"}`);
        }
    }
    return drift;
}

/** "in place", or which persistence file is missing or edited; "not persisted". */
export function persistStatus(persist: boolean, drift: readonly string[]): string {
    if (!persist) {
        return "not persisted";
    }
    const files = drift.filter((d) => d.startsWith("/"));
    return files.length > 0 ? files.join("; ") : "in place";
}
