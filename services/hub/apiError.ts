/** The JSON error body of every non-2xx answer: `{"error":{"code","message"}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

export function apiError(code: string, message: string): ApiErrorBody {
  return { error: { code, message } };
}

export interface ApiAnswer<T> {
  status: number;
  body: T | ApiErrorBody;
}
