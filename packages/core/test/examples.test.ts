import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runTour } from '../../../examples/quick-tour/src/index.js';

describe('examples', () => {
  it('the quick tour does what the README says', async () => {
    const result = await runTour(`memory://${randomUUID()}`);
    // Highest priority first, then FIFO: broken (9), cat (7), big (0).
    expect(result.handled).toEqual([{ file: 'broken.mp4' }, { file: 'cat.mp4' }, { file: 'big.mp4' }]);
    expect(result.iterated).toEqual([{ file: 'dog.mp4' }]);
    expect(result.deadLettered).toEqual([{ file: 'broken.mp4' }]);
  });
});
