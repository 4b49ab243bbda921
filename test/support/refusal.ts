import { AppError, type AppErrorCode } from '../../src/domain/app-error';

/** The AppError `fn` throws; fails the test when it returns or throws something else. */
export function refusalOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError, but the call returned normally');
}

/** The refusal has the code, names the field, says what was expected and what arrived. */
export function expectRefusal(fn: () => unknown, code: AppErrorCode, field: string, fragments: readonly string[] = []): AppError {
  const err = refusalOf(fn);
  expect({ code: err.code, field: err.field }).toEqual({ code, field });
  for (const fragment of [`${field}:`, 'expected', 'got', ...fragments]) expect(err.message).toContain(fragment);
  return err;
}
