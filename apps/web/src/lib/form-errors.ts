// Puts a gateway 400 on the form fields it concerns (docs/api.md "Errors"; DASHBOARD.md §6 "new scan").

/** Field name of the form → message. `_form` holds what no field owns. */
export type FieldErrors = Record<string, string>;

/**
 * Reads the delta-reporter error shapes: `missing_fields: [name]`, `invalid_fields: {name: message}`,
 * `field` (the field a definition's refusal names), `out_of_scope` / `invalid_targets` (the targets field), `option` (the options field), `unknown_fields`, and
 * `details` naming a field at the start of its sentence. `aliases` maps API field names to form field names
 * (e.g. `nmap_flags` → `scan_arguments`).
 */
export function fieldErrorsOf(body: unknown, aliases: Record<string, string> = {}): FieldErrors {
  const out: FieldErrors = {};
  if (!body || typeof body !== 'object') return { _form: 'Request failed' };
  const b = body as Record<string, unknown>;
  const error = typeof b.error === 'string' ? b.error : 'Request failed';
  const name = (field: string) => aliases[field] ?? field;
  const set = (field: string, message: string) => {
    const key = name(field);
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  };
  if (Array.isArray(b.missing_fields)) for (const f of b.missing_fields) set(String(f), `${f} is required`);
  if (b.invalid_fields && typeof b.invalid_fields === 'object')
    for (const [f, m] of Object.entries(b.invalid_fields as Record<string, unknown>)) set(f, String(m));
  if (typeof b.field === 'string') set(b.field, error);
  else if (Array.isArray(b.out_of_scope)) set('targets', error);
  else if (Array.isArray(b.invalid_targets)) set('targets', error);
  else if (typeof b.option === 'string') set('nmap_flags', error);
  if (Array.isArray(b.unknown_fields)) out._form = error;
  if (Object.keys(out).length === 0) {
    const lead = /^([a-z_]+) /.exec(error)?.[1];
    if (lead && lead in aliases) set(lead, error);
    else out._form = error;
  }
  return out;
}
