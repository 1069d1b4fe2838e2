/* host_info: the facts match what the machine itself says (nproc, /proc/meminfo, uname,
 * os-release), and the parsers handle the other shapes those files take (ARM cpuinfo, quoted
 * os-release values, CPU lists with holes). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/host_info.h"
#include "support/tmpdir.h"

/* First line of a shell command's output. */
static void shell_line(const char *cmd, char *buf, size_t len)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    cr_assert_not_null(fgets(buf, (int)len, p), "no output from %s", cmd);
    buf[strcspn(buf, "\n")] = '\0';
    pclose(p);
}

Test(host_info, matches_what_the_machine_says)
{
    struct host_info h;
    struct error err = {{0}};
    cr_assert_eq(host_info_read(&h, &err), 0, "%s", err.msg);

    struct utsname u;
    cr_assert_eq(uname(&u), 0);
    cr_expect_str_eq(h.kernel, u.release);
    cr_expect_str_eq(h.hostname, u.nodename);

    /* nproc counts the CPUs this process may use: never more than the online ones. */
    char line[256];
    shell_line("nproc", line, sizeof(line));
    cr_expect_geq(h.cores, atoi(line), "cores %d < nproc %s", h.cores, line);
    cr_expect_eq(h.cores, (int)sysconf(_SC_NPROCESSORS_ONLN));

    shell_line("awk '/^MemTotal:/ {print $2}' /proc/meminfo", line, sizeof(line));
    cr_expect_eq(h.memory_bytes, strtoull(line, NULL, 10) * 1024);
    struct sysinfo si;
    cr_assert_eq(sysinfo(&si), 0);
    cr_expect_eq(h.memory_bytes, (uint64_t)si.totalram * si.mem_unit);

    if (access("/etc/os-release", R_OK) == 0) {
        shell_line(". /etc/os-release && printf '%s\\n' \"$PRETTY_NAME\"", line, sizeof(line));
        cr_expect_str_eq(h.os, line);
    }
    shell_line("awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr -s ' '",
               line, sizeof(line));
    if (line[0])
        cr_expect_str_eq(h.cpu_model, line);
    cr_expect(h.cpu_model[0] != '\0', "no CPU model found");
}

static void put(const char *root, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s%s", root, rel);
    /* create parent directories one by one */
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(host_info, reads_other_shapes_of_the_files)
{
    char root[256];
    tmpdir_make("hostinfo", root, sizeof(root));
    put(root, "/proc/sys/kernel/osrelease", "5.10.0-arm64\n");
    put(root, "/proc/sys/kernel/hostname", "pi\n");
    put(root, "/proc/cpuinfo",
        "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n"
        "Hardware\t: BCM2835\n\nprocessor\t: 1\nHardware\t: other\n");
    put(root, "/sys/devices/system/cpu/online", "0-3,8,10-11\n");
    put(root, "/proc/meminfo", "MemFree:  100 kB\nMemTotal:       3884328 kB\n");
    /* no PRETTY_NAME: NAME + VERSION, with os-release's shell quoting */
    put(root, "/usr/lib/os-release", "NAME=\"My \\\"Linux\\\"\"\nVERSION='1.0 (x)'\nID=my\n");

    struct host_info h;
    struct error err = {{0}};
    cr_assert_eq(host_info_read_at(root, &h, &err), 0, "%s", err.msg);
    cr_expect_str_eq(h.kernel, "5.10.0-arm64");
    cr_expect_str_eq(h.hostname, "pi");
    cr_expect_str_eq(h.cpu_model, "BCM2835");
    cr_expect_eq(h.cores, 7);
    cr_expect_eq(h.memory_bytes, 3884328ULL * 1024);
    cr_expect_str_eq(h.os, "My \"Linux\" 1.0 (x)");

    put(root, "/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=x\n");
    put(root, "/sys/devices/system/cpu/online", "garbage\n");
    cr_assert_eq(host_info_read_at(root, &h, &err), 0, "%s", err.msg);
    cr_expect_str_eq(h.os, "Debian GNU/Linux 12 (bookworm)");
    cr_expect_eq(h.cores, 0, "a malformed CPU list is unknown, not a guess from another root");
    tmpdir_remove(root);
}

Test(host_info, fails_with_a_message_without_proc)
{
    struct host_info h;
    struct error err = {{0}};
    cr_expect_eq(host_info_read_at("/nonexistent-root", &h, &err), -1);
    cr_expect(strstr(err.msg, "kernel release") != NULL, "%s", err.msg);
}

Test(host_info, writes_the_environment_object)
{
    struct host_info h = {.hostname = "vm", .os = "Debian", .kernel = "6.1",
                          .cpu_model = "", .cores = 2, .memory_bytes = 1024};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    json_init(&w, f, false);
    host_info_write_json(&w, &h);
    fclose(f);
    cr_expect_str_eq(buf, "{\"hostname\":\"vm\",\"os\":\"Debian\",\"kernel\":\"6.1\","
                          "\"cpu_model\":null,\"cores\":2,\"memory_bytes\":1024}");
    free(buf);
}
