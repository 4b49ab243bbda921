import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the operation asks, below the current field, for the field at `path` (response names are
 * not used: field names, through inline fragments and named fragments). Lets a resolver read nested
 * data in the same statement when, and only when, it is asked for.
 */
export function selectsPath(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): boolean {
  const walk = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): boolean => {
    if (!set) return false;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === path[depth] && (depth === path.length - 1 || walk(s.selectionSet, depth + 1, seen))) return true;
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        if (walk(s.selectionSet, depth, seen)) return true;
      } else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        if (walk(info.fragments[s.name.value]?.selectionSet, depth, seen)) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((node: FieldNode) => walk(node.selectionSet, 0, new Set()));
}
