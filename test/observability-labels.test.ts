import { configureLabels, operationLabel, tenantLabel } from '../lib/telemetry/registry';

describe('metric label policy', () => {
  it('keeps the first well-formed operation names up to the cap and groups the rest', () => {
    configureLabels({ operations: null, maxOperations: 2, tenants: [] });
    expect(operationLabel('First')).toBe('First');
    expect(operationLabel('Ünïcode')).toBe('other');
    expect(operationLabel('x'.repeat(65))).toBe('other');
    expect(operationLabel('Second')).toBe('Second');
    expect(operationLabel('Third')).toBe('other');
    expect(operationLabel('First')).toBe('First');
    expect(operationLabel(undefined)).toBe('anonymous');
  });

  it('with an operator list, only listed operation names and tenants are label values', () => {
    configureLabels({ operations: ['Account360'], tenants: ['acme'] });
    expect(operationLabel('Account360')).toBe('Account360');
    expect(operationLabel('Anything')).toBe('other');
    expect(tenantLabel('acme')).toBe('acme');
    expect(tenantLabel('globex')).toBe('other');
    expect(tenantLabel(undefined)).toBe('other');
  });
});
