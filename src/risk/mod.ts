/**
 * The risk mode, as other folders use it: {@link runRisk} guards one account until its signal
 * aborts; {@link WebhookNotifier} delivers its notifications; {@link prepareContext} builds the
 * rule context of a snapshot (`riskguard rules test`).
 *
 * @module
 */
export { DEFAULT_RISK_TIMING, type RiskRunOptions, type RiskTiming, runRisk } from "./runner.ts";
export type { RiskStatus } from "./account_guard.ts";
export type { RiskEvent } from "./audit_trail.ts";
export { type Notification, WebhookNotifier, type WebhookOptions } from "./notifier.ts";
export { prepareContext } from "./engine.ts";
export { defaultJournalDir, JOURNAL_DIR_ENV } from "./state_journal.ts";
