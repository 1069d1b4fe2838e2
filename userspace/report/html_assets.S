/* Embeds the HTML report's assets in the binary as NUL-terminated strings: the page template,
 * its CSS and JavaScript, and Chart.js from Debian's libjs-chart.js (a build dependency), so
 * that the report is one offline file whatever is installed where it is opened. */
    .section .rodata

    .global html_asset_template
    .type html_asset_template, @object
html_asset_template:
    .incbin "userspace/report/html_template.html"
    .byte 0
    .size html_asset_template, . - html_asset_template

    .global html_asset_css
    .type html_asset_css, @object
html_asset_css:
    .incbin "userspace/report/html_report.css"
    .byte 0
    .size html_asset_css, . - html_asset_css

    .global html_asset_js
    .type html_asset_js, @object
html_asset_js:
    .incbin "userspace/report/html_report.js"
    .byte 0
    .size html_asset_js, . - html_asset_js

    .global html_asset_chartjs
    .type html_asset_chartjs, @object
html_asset_chartjs:
    .incbin "/usr/share/javascript/chart.js/chart.min.js"
    .byte 0
    .size html_asset_chartjs, . - html_asset_chartjs

    .section .note.GNU-stack, "", @progbits
