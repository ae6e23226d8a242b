import { describe, expect, it } from 'vitest';
import { translateRunflags } from './runflags.js';

describe('runflags', () => {
  it('accepts flags that restate the hardened defaults, with no security change', () => {
    const s = translateRunflags([
      '--network',
      'none',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--ipc=private',
    ]);
    expect(s.security).toEqual({});
  });

  it('turns loosening flags into policy fields', () => {
    const s = translateRunflags([
      '--read-only=false',
      '--security-opt',
      'seccomp:unconfined',
      '--security-opt=apparmor=unconfined',
      '--security-opt',
      'systempaths=unconfined',
      '--security-opt',
      'no-new-privileges=false',
      '--cap-add',
      'cap_net_raw',
      '--pid',
      'host',
      '--privileged',
      '--runtime',
      'runsc',
      '--network=bridge',
    ]);
    expect(s.security).toEqual({
      readOnlyRootfs: false,
      seccomp: 'unconfined',
      apparmor: 'unconfined',
      maskedPaths: false,
      noNewPrivileges: false,
      capAdd: ['NET_RAW'],
      hostNamespaces: ['pid'],
      privileged: true,
      runtime: 'runsc',
      network: 'bridge',
    });
  });

  it.each([
    [['--pid', 'container:abc'], /only "--pid host" can be allowed/],
    [['--network', 'container:abc'], /engines run with no network/],
    [['--security-opt', 'seccomp=/etc/profile.json'], /is refused: accepted are/],
    [['--cap-add', 'NOT_A_CAP'], /not a Linux capability/],
    [['--frobnicate'], /unknown flag "--frobnicate"/],
    [['--sysctl', 'kernel.x=1'], /is refused: it changes kernel parameters/],
  ])('refuses %j', (flags, message) => {
    expect(() => translateRunflags(flags)).toThrow(message);
  });
});
