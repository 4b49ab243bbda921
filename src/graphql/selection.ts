import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type GraphQLResolveInfo,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Names of the fields selected on what a resolver returns (its list items), or at `path` below it
 * (field names, e.g. `['edges', 'node']`), through inline fragments and fragment spreads, leaving out
 * parts a `@skip`/`@include` turns off. Aliases are read as the field they name. Lets a resolver
 * compute and read only what is asked (`callStats`: no percentile unless selected; listings: only
 * the selected columns).
 */
export function selectedFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments' | 'variableValues'>, path: readonly string[] = []): Set<string> {
  const names = new Set<string>();
  const included = (node: SelectionNode): boolean =>
    getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
  // `spread`: fragments already read at this depth (a fragment that spreads itself must not loop).
  const visit = (set: SelectionSetNode | undefined, depth: number, spread: Set<string>): void => {
    for (const node of set?.selections ?? []) {
      if (!included(node)) continue;
      if (node.kind === Kind.FIELD) {
        if (depth === path.length) names.add(node.name.value);
        else if (node.name.value === path[depth]) visit(node.selectionSet, depth + 1, new Set());
      } else if (node.kind === Kind.INLINE_FRAGMENT) visit(node.selectionSet, depth, spread);
      else if (!spread.has(node.name.value)) {
        spread.add(node.name.value);
        visit(info.fragments[node.name.value]?.selectionSet, depth, spread);
      }
    }
  };
  for (const field of info.fieldNodes) visit(field.selectionSet, 0, new Set());
  return names;
}

/** The page arguments of a connection resolver, with `rows: false` when the selection reads no row (only `totalCount`). */
export function pageArgsFor<T extends object>(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments' | 'variableValues'>, args: T): T & { rows: boolean } {
  const selected = selectedFields(info);
  return { ...args, rows: selected.has('edges') || selected.has('pageInfo') };
}
