// request/: RequestAttributes, kube-apiserver's RequestInfo computed once from method + raw target. Targets whose
// decoding would change their meaning are refused here, so the bytes authorized are the bytes forwarded.
export { requestAttributes, parseTarget, isLongRunning, type RequestAttributes } from './request-attributes.ts';
export { parseQuery, Query, MAX_QUERY_PARAMETERS } from './query.ts';
