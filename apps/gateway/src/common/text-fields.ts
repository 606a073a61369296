// Rules every text field of a request body follows, whatever the field means.
import { Transform } from 'class-transformer';
import { ValidateBy, ValidationOptions } from 'class-validator';

// C0 controls, DEL and C1 controls. NUL is the one that hurts (PostgreSQL refuses it in text; SQLite cuts a
// statement at it), but none of them belongs in a name, a password or an nmap argument, and a terminal that
// shows a stored name must not be driven by it.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
// Half of a UTF-16 surrogate pair: not a character, and stored as U+FFFD (the text silently changes).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface TextRuleOptions {
  /** Allow tab, line feed and carriage return (free text such as a description). */
  allowLineBreaks?: boolean;
}

/** Why `value` is not acceptable text, or undefined when it is (a non-string is another rule's business). */
export function textProblem(value: unknown, options: TextRuleOptions = {}): string | undefined {
  if (typeof value !== 'string') return undefined;
  if ((options.allowLineBreaks ? CONTROL_BUT_LINE_BREAKS : CONTROL).test(value)) {
    return 'must not contain control characters';
  }
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode text (an unpaired surrogate)';
  return undefined;
}

/**
 * class-validator rule for every string field of every request body: no control characters (U+0000-U+001F,
 * U+007F-U+009F; with `allowLineBreaks`, tab, LF and CR pass) and no unpaired surrogates. With `{each: true}`
 * it checks every string of an array. A unit test (common/text-fields.spec.ts) finds every string field of
 * every DTO and fails when one lacks this rule.
 */
export function PlainText(options: TextRuleOptions = {}, validationOptions?: ValidationOptions) {
  return ValidateBy(
    {
      name: options.allowLineBreaks ? 'plainTextLines' : 'plainText',
      validator: {
        validate: (value: unknown) => textProblem(value, options) === undefined,
        defaultMessage: (args) => {
          const value: unknown = args?.value;
          const problem = Array.isArray(value)
            ? value.map((item) => textProblem(item, options)).find((p) => p !== undefined)
            : textProblem(value, options);
          const each = validationOptions?.each ? 'each value in ' : '';
          return `${each}${args?.property ?? 'value'} ${problem ?? 'must be plain text'}`;
        },
      },
    },
    validationOptions,
  );
}

/**
 * Trims a string field before it is validated, so "   " is empty (and refused where a value is required) and a
 * name is stored without the spaces around it. Non-strings pass unchanged, for the type check to name them.
 */
export function Trim() {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));
}
