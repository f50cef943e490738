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
export { Minus80Error, InvalidNameError, InvalidArgumentError, ConfigError, DatasetNotFoundError, TagNotFoundError, IntegrityError, isMinus80Error, type ErrorCode, type ErrorData } from "./errors.js";
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
export { Accession, type AccessionInit, type AccessionJSON, type MetadataValue } from "./types/accession.js";
export { Cohort, readAccessionsYaml, type AccessionKey, type RandomOptions } from "./types/cohort.js";
export { datasets, exists, deleteDatasets } from "./freezer/registry.js";
