/**
 * What the kernel's parameter parsers (kernel/params.c) take for each type modinfo names, so a
 * value they would refuse fails the preview rather than the load (or, written to modprobe.d for a
 * module already loaded, the next boot's load). Only types modinfo reports are judged: a
 * parameter with its own parser (module_param_call, nf_conntrack's hashsize) has none.
 */

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
    byte: [0n, 255n],
    short: [-(2n ** 15n), 2n ** 15n - 1n],
    ushort: [0n, 2n ** 16n - 1n],
    int: [-(2n ** 31n), 2n ** 31n - 1n],
    uint: [0n, 2n ** 32n - 1n],
    hexint: [0n, 2n ** 32n - 1n],
    long: [-(2n ** 63n), 2n ** 63n - 1n],
    ulong: [0n, 2n ** 64n - 1n],
    ullong: [0n, 2n ** 64n - 1n],
};

/** kstrto*(s, 0): an optional sign (only "+" for unsigned types), then 0x hex, 0 octal or decimal. */
function parseKernelInteger(text: string, signed: boolean): bigint | undefined {
    const match = (signed ? /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/ : /^(\+?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/).exec(text);
    if (!match) {
        return undefined;
    }
    const digits = match[2];
    const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith("0") ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    return match[1] === "-" ? -magnitude : magnitude;
}

/**
 * kstrtobool's reading: only the first characters count. t/f (Linux 5.19) and e/d (enable,
 * disable, newer still) are taken too: an older kernel refusing them at load is better than a
 * false refusal here.
 */
export function kernelBool(text: string): boolean | undefined {
    return /^[yYtTeE1]/.test(text) || /^[oO][nN]/.test(text) ? true : /^[nNfFdD0]/.test(text) || /^[oO][fF]/.test(text) ? false : undefined;
}


/** What the kernel takes for one value of `type`, and whether `text` is one; undefined for a type it does not parse itself. */
function expectedValue(type: string, text: string): { takes: string; ok: boolean } | undefined {
    if (type === "bool" || type === "invbool") {
        return { takes: "y, n, 1, 0, on, off, true or false", ok: kernelBool(text) !== undefined };
    }
    const range = INTEGER_RANGES[type];
    if (!range) {
        return undefined;
    }
    const [min, max] = range;
    const value = parseKernelInteger(text, min < 0n);
    return { takes: `an integer from ${min} to ${max} (decimal, 0x hex or 0 octal)`, ok: value !== undefined && value >= min && value <= max };
}

/** Why the kernel would refuse `value` for a parameter of modinfo's `type` ("must be …"); undefined when it takes it or the type has no parser to judge by. */
export function parameterValueProblem(type: string, value: string): string | undefined {
    const array = /^array of (\w+)$/.exec(type);
    if (!array) {
        const expected = expectedValue(type, value);
        return expected && !expected.ok ? `must be ${expected.takes}` : undefined;
    }
    const verdicts = value.split(",").map((element) => ({ element, expected: expectedValue(array[1], element) }));
    const bad = verdicts.find((v) => v.expected && !v.expected.ok);
    return bad ? `must be ${bad.expected!.takes} in each comma-separated element; "${bad.element}" is not` : undefined;
}

/**
 * Whether two spellings of a value mean the same to the parser of `type`: a bool by kstrtobool
 * (a bare bool parameter, "", is true), an integer by its value (0x10 is 16); otherwise as text.
 */
export function sameValueAs(type: string | undefined, a: string, b: string): boolean {
    if (type === "bool" || type === "invbool") {
        const [x, y] = [a === "" ? true : kernelBool(a), b === "" ? true : kernelBool(b)];
        return x !== undefined && x === y;
    }
    const range = type ? INTEGER_RANGES[type] : undefined;
    if (range) {
        const x = parseKernelInteger(a, range[0] < 0n);
        return x !== undefined && x === parseKernelInteger(b, range[0] < 0n);
    }
    return a === b;
}

/**
 * A value read back from /sys/module/NAME/parameters against the declared one. The kernel shows
 * its own form: an integer in decimal (hexint as 0x%08x), a bool as Y or N, and an array every
 * slot it holds (all of them for an array without a count: snd_hda_intel's index reads
 * `1,-1,-1,…` for a declared 1), so a declared array is compared with the slots it sets. With no
 * type known (a parameter with its own parser), only Y or N against a bool spelling is the same
 * value in other words.
 */
export function sameLiveValue(type: string | undefined, live: string, declared: string): boolean {
    const array = type && /^array of (\w+)$/.exec(type);
    if (array) {
        const [slots, elements] = [live.split(","), declared.split(",")];
        return elements.length <= slots.length && elements.every((element, i) => sameValueAs(array[1], slots[i], element));
    }
    if (type) {
        return sameValueAs(type, live, declared);
    }
    return live === declared || ((live === "Y" || live === "N") && kernelBool(declared) === (live === "Y"));
}

/** The parameter name and its type from one line of `modinfo -F parm` ("name:description (type)", "name: (type)", or "name:description" with no type). */
export function parseModinfoParm(line: string): { name: string; type?: string } | undefined {
    const colon = line.indexOf(":");
    if (colon <= 0) {
        return undefined;
    }
    const type = /\((bool|invbool|charp|string|byte|short|ushort|int|uint|hexint|long|ulong|ullong|array of \w+)\)\s*$/.exec(line.slice(colon + 1))?.[1];
    return { name: line.slice(0, colon).trim(), ...(type ? { type } : {}) };
}
