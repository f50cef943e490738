// Placeholder: replaced by the Parquet-backed ColumnStore (work in progress).
export class ColumnStore {
  constructor(readonly dir: string) {}
}
