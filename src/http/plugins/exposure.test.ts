import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { apiExposureFindings } from './exposure.js';

const verdicts = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  Object.fromEntries(
    apiExposureFindings(loadConfig({ env, flags: { data: '/tmp/x', ...flags } })).map((f) => [
      f.check,
      f.status,
    ]),
  );

describe('apiExposureFindings', () => {
  it('warns about an open loopback API and passes TLS there', () => {
    expect(verdicts({})).toMatchObject({ 'api.auth': 'WARN', 'api.tls': 'PASS', 'api.rate-limit': 'PASS' });
  });

  it('passes auth and native mTLS, and warns about a disabled limit or a TLS proxy', () => {
    expect(
      verdicts(
        {
          host: '0.0.0.0',
          tlsCert: '/c.pem',
          tlsKey: '/k.pem',
          tlsClientCa: '/ca.pem',
          rateLimitPerToken: 0,
        },
        { MENAGERIE_AUTH: 'required' },
      ),
    ).toMatchObject({ 'api.auth': 'PASS', 'api.tls': 'PASS', 'api.rate-limit': 'WARN' });
    expect(verdicts({ host: '0.0.0.0', behindTlsProxy: true, auth: 'required' })).toMatchObject({
      'api.tls': 'WARN',
    });
  });

  it('fails what start-up would refuse, when given such a config directly', () => {
    const base = loadConfig({ env: {}, flags: { data: '/tmp/x' } });
    const findings = apiExposureFindings({ ...base, host: '0.0.0.0' });
    expect(findings.filter((f) => f.status === 'FAIL').map((f) => f.check)).toEqual(['api.auth', 'api.tls']);
    expect(findings.every((f) => f.subject === 'api' && (f.status === 'PASS') === (f.fix === null))).toBe(
      true,
    );
  });
});
