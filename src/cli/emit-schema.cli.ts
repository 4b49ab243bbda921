import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCalltrailSchema, printCalltrailSchema } from '../graphql/schema';

/** `npm run schema:emit`: writes schema/schema.graphql from the type-graphql classes. */
buildCalltrailSchema().then((schema) => {
  const file = join(__dirname, '../../schema/schema.graphql');
  writeFileSync(file, printCalltrailSchema(schema));
  console.log(`wrote ${file}`);
});
