/** The SDKAppIDs an API key may see: all apps, or a list. */
export type AppScope = { readonly all: true } | { readonly all: false; readonly apps: readonly string[] };

export const ALL_APPS: AppScope = Object.freeze({ all: true });

/** True when `scope` may see data of `sdkAppId`. */
export const scopeAllows = (scope: AppScope, sdkAppId: string): boolean => scope.all || scope.apps.includes(sdkAppId);

/**
 * The apps a query may read: the key's scope, narrowed to `requested` when given. `null` means
 * every app; an empty list means none (a request for an app outside the scope sees nothing).
 */
export function appsToRead(scope: AppScope, requested?: string | null): readonly string[] | null {
  if (requested !== undefined && requested !== null && requested !== '') return scopeAllows(scope, requested) ? [requested] : [];
  return scope.all ? null : scope.apps;
}
