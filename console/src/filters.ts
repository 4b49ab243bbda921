import type { Filters, MediaType } from './types';

/** The raw values of the filter form. */
export interface FilterInput {
  readonly app: string;
  readonly user: string;
  readonly media: string;
}

/** Form values to filters, the same for `CallFilter` and `CallEventFilter`: blank fields are left out (they match everything). */
export function toFilters(input: FilterInput): Filters {
  const app = input.app.trim();
  const user = input.user.trim();
  const media: MediaType | undefined = input.media === 'AUDIO' || input.media === 'VIDEO' ? input.media : undefined;
  return { ...(app && { sdkAppId: app }), ...(user && { userId: user }), ...(media && { mediaType: media }) };
}

