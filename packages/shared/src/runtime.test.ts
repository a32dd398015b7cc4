import { expect, it } from 'vitest';

it('when the tests run, then they run on Node 24, the Node of the images', () => {
  expect(Number(process.versions.node.split('.')[0])).toBe(24);
});
