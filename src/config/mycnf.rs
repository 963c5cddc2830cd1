//! MariaDB option files, read as `my_print_defaults` reads them.
//!
//! STUB: being written.
