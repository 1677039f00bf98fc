/* tests/worker/test_topology.c - what a worker decides from hwloc's view.
 *
 * Synthetic machines pin down the decisions (which cores a node owns,
 * which CPUs a core binds to) exactly; an exported XML file must give the
 * same answers; this machine must load, and binding here must leave the
 * thread on exactly the CPUs the decision named. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include <criterion/criterion.h>
#include <hwloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/topology.h"

/* Two packages, each split into two NUMA nodes of four 2-way SMT cores. */
#define TWO_BY_TWO "package:2 numa:2 core:4 pu:2"
#define GIB (1024ull * 1024 * 1024)

static wk_topology *load_ok(const char *spec)
{
    wk_topology *t = NULL;
    char err[256] = "";
    sf_rc rc = wk_topology_load(spec, &t, err, sizeof err);
    cr_assert_eq(rc, SF_OK, "loading '%s': %s (%s)", spec ? spec : "(this machine)", err,
                 sf_rc_str(rc));
    cr_assert_not_null(t);
    return t;
}

static void expect_core_cpulist(const wk_topology *t, unsigned node, unsigned core,
                                const char *want)
{
    char buf[64];
    cr_assert_eq(wk_topology_core_cpulist(t, node, core, buf, sizeof buf), SF_OK);
    cr_expect_str_eq(buf, want, "node %u core %u", node, core);
}

static void expect_node_cpulist(const wk_topology *t, unsigned node, const char *want)
{
    char buf[64];
    cr_assert_eq(wk_topology_node_cpulist(t, node, buf, sizeof buf), SF_OK);
    cr_expect_str_eq(buf, want, "node %u", node);
}

/* Every answer TWO_BY_TWO must give, whichever way it was loaded. */
static void expect_two_by_two(const wk_topology *t)
{
    cr_expect_not(wk_topology_is_this_machine(t));
    cr_expect_eq(wk_topology_packages(t), 2);
    cr_expect_eq(wk_topology_nodes(t), 4);
    cr_expect_eq(wk_topology_cores(t), 16);
    for (unsigned i = 0; i < 4; i++) {
        const wk_node *n = wk_topology_node(t, i);
        cr_assert_not_null(n);
        cr_expect_eq(n->index, i);
        cr_expect_eq(n->os_index, i);
        cr_expect_eq(n->package, i / 2, "node %u is in package %u", i, n->package);
        cr_expect_eq(n->ncores, 4, "node %u has %u cores", i, n->ncores);
        cr_expect_eq(n->npus, 8, "node %u has %u PUs", i, n->npus);
        cr_expect_eq(n->memory_bytes, GIB, "hwloc gives each synthetic node 1 GiB");
    }
    cr_expect_null(wk_topology_node(t, 4));
    cr_expect_eq(wk_topology_memory(t), 4 * GIB);
    const wk_gpu *gpus = NULL;
    cr_expect_eq(wk_topology_gpus(t, &gpus), 0);

    expect_core_cpulist(t, 0, 0, "0-1");
    expect_core_cpulist(t, 1, 0, "8-9");
    expect_core_cpulist(t, 2, 1, "18-19");
    expect_core_cpulist(t, 3, 3, "30-31");
    expect_node_cpulist(t, 0, "0-7");
    expect_node_cpulist(t, 2, "16-23");
    expect_node_cpulist(t, 3, "24-31");

    char desc[128];
    wk_topology_describe(t, desc, sizeof desc);
    cr_expect_str_eq(desc, "2 packages, 4 NUMA nodes, 16 cores, 4.0 GiB, 0 GPUs");
}

Test(topology, synthetic_two_packages_of_two_nodes)
{
    wk_topology *t = load_ok("synthetic:" TWO_BY_TWO);
    expect_two_by_two(t);
    wk_topology_free(&t);
    cr_expect_null(t);
    wk_topology_free(&t); /* NULL-safe */
}

Test(topology, synthetic_attached_numa_with_memory_is_one_node_per_package)
{
    wk_topology *t = load_ok("synthetic:package:2 [numa(memory=2GiB)] core:4 pu:2");
    cr_expect_eq(wk_topology_packages(t), 2);
    cr_expect_eq(wk_topology_nodes(t), 2);
    for (unsigned i = 0; i < 2; i++) {
        const wk_node *n = wk_topology_node(t, i);
        cr_expect_eq(n->package, i);
        cr_expect_eq(n->ncores, 4);
        cr_expect_eq(n->memory_bytes, 2 * GIB);
    }
    expect_core_cpulist(t, 1, 2, "12-13");
    wk_topology_free(&t);
}

/* Linux numbers the second hardware thread of each core after all the
 * first ones, so a core's CPUs are not contiguous: the cpulist must use
 * the kernel's numbers, not hwloc's logical order. */
Test(topology, core_cpulist_uses_kernel_cpu_numbers)
{
    wk_topology *t = load_ok("synthetic:numa:2 core:4 pu:2(indexes=2*8:1*2)");
    cr_expect_eq(wk_topology_nodes(t), 2);
    cr_expect_eq(wk_topology_packages(t), 1, "no package level still means one package");
    expect_core_cpulist(t, 0, 0, "0,8");
    expect_core_cpulist(t, 1, 3, "7,15");
    expect_node_cpulist(t, 1, "4-7,12-15");
    wk_topology_free(&t);
}

Test(topology, no_numa_level_is_one_node_holding_every_core)
{
    wk_topology *t = load_ok("synthetic:core:3 pu:2");
    cr_expect_eq(wk_topology_nodes(t), 1);
    cr_expect_eq(wk_topology_node(t, 0)->ncores, 3);
    cr_expect_eq(wk_topology_node(t, 0)->npus, 6);
    expect_node_cpulist(t, 0, "0-5");
    wk_topology_free(&t);
}

Test(topology, without_core_objects_each_pu_is_a_core)
{
    wk_topology *t = load_ok("synthetic:numa:2 pu:3");
    cr_expect_eq(wk_topology_cores(t), 6);
    cr_expect_eq(wk_topology_node(t, 1)->ncores, 3);
    expect_core_cpulist(t, 1, 0, "3");
    wk_topology_free(&t);
}

Test(topology, cpulist_refuses_out_of_range_and_short_buffers)
{
    wk_topology *t = load_ok("synthetic:" TWO_BY_TWO);
    char buf[64];
    cr_expect_eq(wk_topology_core_cpulist(t, 4, 0, buf, sizeof buf), SF_EINVAL);
    cr_expect_eq(wk_topology_core_cpulist(t, 0, 4, buf, sizeof buf), SF_EINVAL);
    cr_expect_eq(wk_topology_node_cpulist(t, 4, buf, sizeof buf), SF_EINVAL);
    cr_expect_eq(wk_topology_node_cpulist(t, 3, buf, 3), SF_ELIMIT, "\"24-31\" needs 6 bytes");
    wk_topology_free(&t);
}

Test(topology, binding_a_synthetic_topology_is_refused)
{
    wk_topology *t = load_ok("synthetic:" TWO_BY_TWO);
    char err[256] = "";
    cr_expect_eq(wk_topology_bind_thread(t, 0, 0, err, sizeof err), SF_EUNSUPPORTED);
    cr_expect(strstr(err, "synthetic") != NULL, "err: %s", err);
    cr_expect_eq(wk_topology_bind_thread(t, 9, 0, err, sizeof err), SF_EINVAL);
    wk_topology_free(&t);
}

Test(topology, synthetic_memory_is_plain_and_usable)
{
    wk_topology *t = load_ok("synthetic:" TWO_BY_TWO);
    size_t size = 1 << 20;
    unsigned char *p = wk_node_alloc(t, 3, size);
    cr_assert_not_null(p);
    memset(p, 0xab, size);
    cr_expect_eq(p[size - 1], 0xab);
    wk_node_free(t, p, size);
    cr_expect_null(wk_node_alloc(t, 4, size), "node 4 does not exist");
    wk_topology_free(&t);
}

static void expect_refused(const char *spec, const char *named)
{
    wk_topology *t = (wk_topology *)&t; /* must come back NULL */
    char err[256] = "";
    cr_expect_eq(wk_topology_load(spec, &t, err, sizeof err), SF_EINVAL, "spec '%s'", spec);
    cr_expect_null(t);
    cr_expect(strstr(err, named) != NULL, "err for '%s' names '%s': %s", spec, named, err);
}

Test(topology, bad_specs_are_refused_naming_what_is_wrong)
{
    expect_refused("synthetic:package:2 bogus:3 pu:2", "package:2 bogus:3 pu:2");
    expect_refused("synthetic:package:2 core:2", "package:2 core:2"); /* must end with pu */
    expect_refused("synthetic:", "no description");
    expect_refused("/definitely/not/here.xml", "/definitely/not/here.xml");
    expect_refused("eight cores please", "eight cores please");
}

Test(topology, malformed_xml_is_refused)
{
    char path[] = "/tmp/sf_topo_bad_XXXXXX.xml";
    int fd = mkstemps(path, 4);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "<topology>", 10), 10);
    close(fd);
    expect_refused(path, path);
    unlink(path);
}

Test(topology, xml_round_trip_gives_the_same_answers)
{
    hwloc_topology_t hw;
    cr_assert_eq(hwloc_topology_init(&hw), 0);
    cr_assert_eq(hwloc_topology_set_synthetic(hw, TWO_BY_TWO), 0);
    cr_assert_eq(hwloc_topology_load(hw), 0);
    char path[] = "/tmp/sf_topo_XXXXXX.xml";
    int fd = mkstemps(path, 4);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(hwloc_topology_export_xml(hw, path, 0), 0);
    hwloc_topology_destroy(hw);

    wk_topology *t = load_ok(path);
    expect_two_by_two(t);
    char err[256] = "";
    cr_expect_eq(wk_topology_bind_thread(t, 0, 0, err, sizeof err), SF_EUNSUPPORTED);
    wk_topology_free(&t);
    unlink(path);
}

/* The calling thread's CPUs as a kernel cpulist ("0-3,8"). */
static void thread_cpulist(char *buf, size_t len)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    size_t at = 0;
    buf[0] = '\0';
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        int n = last == cpu ? snprintf(buf + at, len - at, "%s%d", at ? "," : "", cpu)
                            : snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", cpu, last);
        cr_assert(n > 0 && (size_t)n < len - at);
        at += (size_t)n;
        cpu = last;
    }
}

Test(topology, this_machine_loads)
{
    wk_topology *t = load_ok(NULL);
    cr_expect(wk_topology_is_this_machine(t));
    cr_expect_geq(wk_topology_nodes(t), 1);
    cr_expect_geq(wk_topology_packages(t), 1);
    cr_expect_geq(wk_topology_cores(t), 1);
    unsigned cores = 0;
    for (unsigned i = 0; i < wk_topology_nodes(t); i++)
        cores += wk_topology_node(t, i)->ncores;
    cr_expect_eq(cores, wk_topology_cores(t), "every core is in exactly one node");
    cr_expect_geq(wk_topology_node(t, 0)->ncores, 1);
    char desc[128];
    wk_topology_describe(t, desc, sizeof desc);
    cr_expect(strstr(desc, "NUMA node") != NULL, "describe: %s", desc);
    wk_topology_free(&t);

    t = load_ok("");
    cr_expect(wk_topology_is_this_machine(t), "an empty spec is this machine too");
    wk_topology_free(&t);
}

Test(topology, binding_here_pins_the_thread_to_the_core)
{
    wk_topology *t = load_ok(NULL);
    char err[256] = "", want[256], got[256];
    cr_assert_eq(wk_topology_bind_thread(t, 0, 0, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(wk_topology_core_cpulist(t, 0, 0, want, sizeof want), SF_OK);
    thread_cpulist(got, sizeof got);
    cr_expect_str_eq(got, want);
    wk_topology_free(&t);
}

Test(topology, node_memory_here_is_usable)
{
    wk_topology *t = load_ok(NULL);
    size_t size = 4 << 20;
    unsigned char *p = wk_node_alloc(t, 0, size);
    cr_assert_not_null(p);
    memset(p, 1, size);
    cr_expect_eq(p[size / 2], 1);
    wk_node_free(t, p, size);
    wk_topology_free(&t);
}
