import { fieldErrorsOf } from './form-errors';

const SCAN_ALIASES = {
  target: 'targets',
  scan_arguments: 'nmap_flags',
  concurrency: 'concurrency',
  name: 'name',
};

describe('fieldErrorsOf', () => {
  it('puts missing fields on their fields, by their form names', () => {
    expect(
      fieldErrorsOf({ error: 'Missing required fields', missing_fields: ['target', 'name'] }, SCAN_ALIASES),
    ).toEqual({
      targets: 'target is required',
      name: 'name is required',
    });
  });
  it('puts out-of-scope and invalid targets on the targets field', () => {
    const error = 'Targets outside the scan scope: 192.0.2.10';
    expect(fieldErrorsOf({ error, out_of_scope: ['192.0.2.10'] }, SCAN_ALIASES)).toEqual({ targets: error });
    expect(fieldErrorsOf({ error: 'bad', invalid_targets: ['a b'] }, SCAN_ALIASES)).toEqual({
      targets: 'bad',
    });
  });
  it('puts an error on the field it names', () => {
    const error = 'ports "0-x" is invalid: must be a port list';
    expect(
      fieldErrorsOf({ error, field: 'ports', details: ['ports must be a port list'] }, { ports: 'ports' }),
    ).toEqual({
      ports: error,
    });
  });
  it('puts a refused option on the nmap options field', () => {
    const error = 'nmap option "-oX" is not allowed: writes files';
    expect(fieldErrorsOf({ error, option: '-oX' }, SCAN_ALIASES)).toEqual({ nmap_flags: error });
  });
  it("reads registration's invalid_fields", () => {
    expect(
      fieldErrorsOf({
        error: 'x',
        invalid_fields: { username: 'username is already taken', confirm_password: 'no match' },
      }),
    ).toEqual({ username: 'username is already taken', confirm_password: 'no match' });
  });
  it('names the field a validation sentence starts with, when the form has it', () => {
    expect(fieldErrorsOf({ error: 'concurrency must not be less than 1' }, SCAN_ALIASES)).toEqual({
      concurrency: 'concurrency must not be less than 1',
    });
  });
  it('keeps what no field owns for the form', () => {
    expect(fieldErrorsOf({ error: 'Scan 4 is already running (result 9)' }, SCAN_ALIASES)).toEqual({
      _form: 'Scan 4 is already running (result 9)',
    });
    expect(fieldErrorsOf('nope')).toEqual({ _form: 'Request failed' });
  });
});
