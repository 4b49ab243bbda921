import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCalltrailSchema, printCalltrailSchema } from './schema';

describe('the GraphQL schema', () => {
  it('matches the committed schema/schema.graphql (run `npm run schema:emit` after a change)', async () => {
    const committed = readFileSync(join(__dirname, '../../schema/schema.graphql'), 'utf8');
    expect(printCalltrailSchema(await buildCalltrailSchema())).toBe(committed);
  });
});
