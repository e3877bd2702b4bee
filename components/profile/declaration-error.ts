/**
 * A mistake in what the user declared (a conflict, a bad config), not a crash. Pulumi's SDK
 * recognises a RunError by this marker (`RunError.isInstance`), and then prints the message
 * alone, without a stack trace; marking it here keeps the pure modules that throw it (plans,
 * config parsing, the CLI's imports) free of the SDK, and keeps `instanceof` on the class.
 */
export class DeclarationError extends Error {
    readonly __pulumiRunError = true;
}
