// Kubernetes metav1.Status bodies, so kubectl prints its usual lines (k8s.io/apimachinery@v0.34.4/pkg/api/errors/errors.go).
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Headers kube-apiserver sends with its error bodies. */
export const STATUS_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-cache, private',
  'x-content-type-options': 'nosniff',
} as const;
