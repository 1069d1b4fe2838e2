/* Embeds schema.sql in the binary as the NUL-terminated string store_schema_sql. */
    .section .rodata
    .global store_schema_sql
    .type store_schema_sql, @object
store_schema_sql:
    .incbin "userspace/store/schema.sql"
    .byte 0
    .size store_schema_sql, . - store_schema_sql
    .section .note.GNU-stack, "", @progbits
