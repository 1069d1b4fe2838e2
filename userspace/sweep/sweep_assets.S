/* Embeds the sweep report's page template, CSS and JavaScript in the binary as NUL-terminated
 * strings (Chart.js is the copy report/html_assets.S embeds). */
    .section .rodata

    .global sweep_asset_template
    .type sweep_asset_template, @object
sweep_asset_template:
    .incbin "userspace/sweep/sweep_template.html"
    .byte 0
    .size sweep_asset_template, . - sweep_asset_template

    .global sweep_asset_css
    .type sweep_asset_css, @object
sweep_asset_css:
    .incbin "userspace/sweep/sweep_report.css"
    .byte 0
    .size sweep_asset_css, . - sweep_asset_css

    .global sweep_asset_js
    .type sweep_asset_js, @object
sweep_asset_js:
    .incbin "userspace/sweep/sweep_report.js"
    .byte 0
    .size sweep_asset_js, . - sweep_asset_js

    .section .note.GNU-stack, "", @progbits
