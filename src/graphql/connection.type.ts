import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import type { Page } from '../db/pagination';
import { PageInfo } from './page-info.type';

/** What a resolver hands a connection: the page, and how to count the whole listing. */
export interface ConnectionSource<T> {
  readonly page: Page<T>;
  readonly count: () => Promise<number>;
}

/** A Relay connection type for `Node`, named `<name>Connection` with `<name>Edge`. */
export function Connection<TNode extends object>(Node: ClassType<TNode>, name: string) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class Edge {
    @Field(() => String)
    cursor!: string;

    @Field(() => Node)
    node!: TNode;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  class ConnectionType {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    private count!: () => Promise<number>;

    @Field(() => Int, { description: 'Total matching the filter; computed only when selected' })
    totalCount(): Promise<number> {
      return this.count();
    }

    static from<R>(source: ConnectionSource<R>, toNode: (record: R) => TNode): ConnectionType {
      const { page } = source;
      return Object.assign(new ConnectionType(), {
        edges: page.nodes.map((r, i) => ({ cursor: page.cursors[i], node: toNode(r) })),
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.cursors[0] ?? null,
          endCursor: page.cursors.at(-1) ?? null,
        },
        count: source.count,
      });
    }
  }
  return ConnectionType;
}
