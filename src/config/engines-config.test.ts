import { describe, expect, it } from 'vitest';
import { parseEnginesConfig } from './engines-config.js';
import { engineDefaultsSchema } from './schema.js';

const defaults = engineDefaultsSchema.parse({});

function parse(engines: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  return parseEnginesConfig(JSON.stringify({ engines, ...extra }), defaults);
}

const base = { name: 'e', image: 'localhost:5000/e:stable' };

describe('engines.json security', () => {
  it('gives an engine with no security block the hardened policy and no loosenings', () => {
    const [spec] = parse([{ ...base, runflags: ['--network', 'none', '--read-only'] }]);
    expect(spec?.policy).toMatchObject({
      network: 'none',
      readOnlyRootfs: true,
      capAdd: [],
      noNewPrivileges: true,
      seccomp: 'menagerie',
      apparmor: 'default',
      maskedPaths: true,
      privileged: false,
      hostNamespaces: [],
      user: '1000',
      runtime: null,
    });
    expect(spec?.loosenings).toEqual([]);
  });

  it('records each written-out loosening as the docker flag that says it', () => {
    const [spec] = parse([
      {
        ...base,
        user: 0,
        security: {
          network: 'bridge',
          readOnlyRootfs: false,
          seccomp: 'docker-default',
          capAdd: ['cap_chown'],
        },
      },
    ]);
    expect(spec?.loosenings).toEqual([
      '--network bridge',
      '--cap-add CHOWN',
      '--security-opt seccomp=docker-default',
      '--read-only=false',
      '--user 0',
    ]);
  });

  it.each([
    [{ runflags: ['--privileged'] }, '--privileged'],
    [{ runflags: ['--cap-add', 'SYS_PTRACE'] }, '--cap-add SYS_PTRACE'],
    [{ runflags: ['--network', 'host'] }, '--network host'],
    [{ runflags: ['--pid', 'host'] }, '--pid host'],
    [{ runflags: ['--security-opt', 'seccomp=unconfined'] }, '--security-opt seccomp=unconfined'],
    [{ runflags: ['--security-opt', 'apparmor=unconfined'] }, '--security-opt apparmor=unconfined'],
    [{ runflags: ['--security-opt', 'systempaths=unconfined'] }, '--security-opt systempaths=unconfined'],
    [{ security: { capAdd: ['SYS_ADMIN'] } }, '--cap-add SYS_ADMIN'],
    [{ security: { noNewPrivileges: false } }, '--security-opt no-new-privileges=false'],
  ])('refuses a dangerous loosening (%j) unless allowLoosening names it', (fields, loosening) => {
    expect(() => parse([{ ...base, ...fields }])).toThrow(
      new RegExp(
        `engine "e": "${loosening.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')}" .*is refused.*allowLoosening`,
      ),
    );
    const [spec] = parse([{ ...base, ...fields }], { allowLoosening: { e: [loosening] } });
    expect(spec?.loosenings).toContain(loosening);
  });

  it.each([
    [['-v', '/etc:/etc'], /"-v \/etc:\/etc" is refused: it mounts a host path/],
    [['--volume=/var/run/docker.sock:/var/run/docker.sock'], /"--volume .*docker.sock.*" is refused/],
    [['--device', '/dev/sda'], /"--device \/dev\/sda" is refused: it exposes a host device/],
    [['--mount', 'type=bind,src=/,dst=/host'], /is refused: it mounts a host path/],
    [['-p', '80:80'], /opens a port on the host/],
    [['--cap-add', 'ALL'], /adding ALL capabilities is refused/],
  ])('refuses %j outright, whatever allowLoosening says', (runflags, message) => {
    expect(() => parse([{ ...base, runflags }], { allowLoosening: { e: [] } })).toThrow(message);
  });

  it('rejects an allowance the engine does not ask for, or one for an unknown engine', () => {
    expect(() => parse([base], { allowLoosening: { e: ['--privileged'] } })).toThrow(
      /"allowLoosening.e": "--privileged" is not a loosening this engine asks for/,
    );
    expect(() => parse([base], { allowLoosening: { other: [] } })).toThrow(/no engine is named "other"/);
  });

  it('rejects unknown keys in the security block, naming the engine and key', () => {
    expect(() => parse([{ ...base, security: { caps: [] } }])).toThrow(/engine "e": .*unknown key "caps"/);
    expect(() => parse([{ ...base, security: { seccomp: 'none' } }])).toThrow(/key "security.seccomp"/);
  });

  it('refuses a user given differently in two places', () => {
    expect(() => parse([{ ...base, user: 1000, security: { user: '0' } }])).toThrow(
      /user is given differently/,
    );
  });
});
