//! MariaDB option files, read as `my_print_defaults` reads them.
//!
//! STUB: being written.

#![allow(missing_docs, dead_code)]
// Integrator's placeholder of the agreed API; replaced by the real reader.
use std::path::PathBuf;
#[derive(Debug, Clone, Default)]
pub struct DefaultsArgs {
    pub defaults_file: Option<PathBuf>,
    pub extra_file: Option<PathBuf>,
    pub group_suffix: Option<String>,
}
#[derive(Debug, Clone)]
pub struct OptionEntry {
    pub group: String,
    pub key: String,
    pub value: Option<String>,
    pub path: PathBuf,
    pub line: usize,
}
#[derive(Debug, Clone, Default)]
pub struct OptionFiles {}
#[derive(Debug, thiserror::Error)]
#[error("option files not implemented")]
pub struct MyCnfError;
pub const MYSQLD_GROUPS: &[&str] = &["mysqld"];
impl OptionFiles {
    pub fn load(_args: &DefaultsArgs) -> Result<Self, MyCnfError> {
        Err(MyCnfError)
    }
    pub fn get(&self, _groups: &[&str], _key: &str) -> Option<&OptionEntry> {
        None
    }
    pub fn has(&self, _groups: &[&str], _key: &str) -> bool {
        false
    }
    pub fn files_read(&self) -> &[PathBuf] {
        &[]
    }
}
