/** Progress events: the library reports, only the CLI draws. */
export interface ProgressEvent {
  phase: string;
  loaded: number;
  total: number;
  key?: string;
}
export type ProgressListener = (e: ProgressEvent) => void;
