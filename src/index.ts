/**
 * minus80: freeze, tag and share datasets.
 *
 * @example
 *   import { CloudData, Cohort, Accession } from "minus80";
 *   const cohort = Cohort.fromYaml("TestCohort", "accessions.yaml");
 *   await cohort.freeze("v1");
 *   const cloud = await CloudData.open();
 *   await cloud.put("TestCohort", "Cohort", { tag: "v1" });
 */
export {
  Minus80Error,
  InvalidNameError,
  InvalidArgumentError,
  ConfigError,
  DatasetNotFoundError,
  TagNotFoundError,
  IntegrityError,
  CancelledError,
  isMinus80Error,
  hasCode,
  type ErrorCode,
  type ErrorData,
} from "./errors.js";
export { checkDtype, checkName, checkTag, checkRawName, parseSlug, formatSlug, type Slug } from "./names.js";
export { loadConfig, configPath, redactedConfig, DEFAULT_CONFIG_TEXT, type Config, type CloudConfig, type ConfigOverrides } from "./config/config.js";
export type { ProgressEvent, ProgressListener } from "./progress.js";
export { Freezer, type DatasetId } from "./freezer/freezer.js";
export { FrozenDataset, type FileChanges, type DatasetManifest } from "./freezer/frozenDataset.js";
export { Freezable, type FreezableOptions } from "./freezer/freezable.js";
export { BlobStore } from "./freezer/blobStore.js";
export { LATEST_TAG, computeTotal, parseTagManifest, type TagManifest, type FileEntry } from "./freezer/manifest.js";
export { RelationalStore } from "./freezer/stores/relational.js";
export { DocumentStore } from "./freezer/stores/documents.js";
export { ColumnStore, type ColumnTable, type ColumnValues, type ColumnRow, type ColumnScalar, type NumericTypedArray } from "./freezer/stores/columns.js";
export { Accession, type AccessionInit, type AccessionJSON, type MetadataValue, type LaneInfo, type FileEntryInfo } from "./types/accession.js";
export { Cohort, readAccessionsYaml, type AccessionKey, type RandomOptions, type WhereCriteria, type ImportOptions } from "./types/cohort.js";
export { seededRandom } from "./types/cohort/random.js";
export { parseWhere } from "./types/cohort/query.js";
export { READS_DIR } from "./types/cohort/attach.js";
export { readAccessionFile, importFormatOf, IMPORT_FORMATS, type ImportFormat } from "./types/samplesheet/formats.js";
export { parseSamplesheet, readSamplesheet } from "./types/samplesheet/csvRead.js";
export { formatAccessions, checkExportFormat, EXPORT_FORMATS, RNASEQ_HEADER, SAREK_HEADER, SHEET_DEFAULTS, type ExportFormat } from "./types/samplesheet/write.js";
export { laneRows, type LaneRow } from "./types/samplesheet/lanes.js";
export { accessionsToYaml } from "./types/samplesheet/yaml.js";
export { datasets, exists, deleteDatasets } from "./freezer/registry.js";
export {
  CloudData,
  type CloudOpenOptions,
  type CloudListOptions,
  type CloudPushOptions,
  type CloudPullOptions,
  type CloudRemoveDatasetOptions,
} from "./cloud/cloudData.js";
export type { CloudPutOptions, CloudGetOptions, CloudRemoveOptions, CloudPutResult, CloudGetResult } from "./cloud/compat.js";
export type { CloudListing, CloudTagListing, CloudRawListing, TagSummary, RawFileSummary, ListFilter } from "./cloud/listing.js";
export { GC_GRACE_MS, type GcResult, type GcOptions, type NukeResult } from "./cloud/gc.js";
export type { PushCounts, PushOptions, CatalogOutcome } from "./cloud/push.js";
export type { CatalogOptions, CatalogResult } from "./cloud/catalog/catalog.js";
export type { CatalogData, CatalogDataset, CatalogTag, CatalogRawFile } from "./cloud/catalog/gather.js";
export { registerDescriber, type ContentSummary, type SummaryItem, type SummaryValue, type Describer } from "./freezer/summary.js";
export type { PullCounts, PullOptions } from "./cloud/pull.js";
export { checkPullSelection, COHORT_DTYPE, type PullPlan, type PullSelection } from "./cloud/pullPlan.js";
export type { PushPlan, PushTagPlan } from "./cloud/pushPlan.js";
export type { RequestEstimate, DiskRoom } from "./cloud/dryRun.js";
export type { PartialCopy } from "./freezer/partial.js";
export { SQL_FILE } from "./freezer/freezable.js";
export type { RawPutResult, RawGetResult, RawPushOptions, RawPullOptions } from "./cloud/raw.js";
export type { VerifyReport, VerifyProblem, VerifyProblemKind, VerifyOptions } from "./cloud/verify.js";
export { RetryingBackend, DEFAULT_RETRY_POLICY, type RetryPolicy, type RetryEvent, type RetryStats } from "./cloud/retry.js";
export type { Backend, PutBody, PutOptions, GetOptions, GetResult, HeadResult, ObjectInfo, PendingUpload, PartsHint, RequestOptions } from "./cloud/backends/backend.js";
export { isTransient, isObjectNotFound } from "./cloud/backends/errors.js";
export { FolderBackend } from "./cloud/backends/folder/folderBackend.js";
export { createBackend } from "./cloud/backends/create.js";
