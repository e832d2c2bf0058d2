import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransportConformance } from '@wakame/testkit';

// Each test gets a fresh directory: a fresh broker.
runTransportConformance({
  name: 'file',
  url: () => `file://${mkdtempSync(join(tmpdir(), 'wakame-file-'))}`,
});
