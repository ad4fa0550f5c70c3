/**
 * The trailing metadata key of a grpc.health.v1 Check answer that is not
 * SERVING: why, in the words of the health report's `reason` (what
 * /healthx and the ctl heartbeat give), so `app readiness` says the same
 * thing on every transport. Binary (`-bin`, base64 on the wire): a reason
 * may quote any error message. No imports: the exec probe reads it too.
 */
export const REASON_TRAILER = 'dionysus-reason-bin';
