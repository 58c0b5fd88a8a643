/* Published OpenCL device reports, one entry per GPU. Each figure carries a mark:
 *   [CL]      the OpenCL query's value as published for this very device (clinfo or a tool
 *             that prints the raw query);
 *   [CL/MiB]  the OpenCL query as printed rounded down to MiB (or KiB) by ProjectPhysX's
 *             OpenCL-Benchmark (src/opencl.hpp divides CL_DEVICE_GLOBAL_MEM_SIZE and
 *             CL_DEVICE_MAX_MEM_ALLOC_SIZE by 1048576, CL_DEVICE_LOCAL_MEM_SIZE by 1024);
 *   [VENDOR]  not found as an OpenCL query for this device: the vendor's own figure (its
 *             documentation or its runtime's device query), named in the comment;
 *   [DERIVED] not published for this device: computed by the rule the comment states;
 *   [UNVERIFIED] not found for this device at all; the value other devices on the same driver
 *             report, kept so the entry is usable, and listed as such in the comment.
 * Devices asked for but left out, because no published source gave enough of their limits:
 * Intel UHD Graphics 770, Qualcomm Adreno 740, Arm Mali-G710, Apple M2 (see the note at the
 * end). */
#include "device_table.h"

const struct device_entry device_table[] = {
    /* NVIDIA H100 80GB HBM3 (SXM), NVIDIA's OpenCL, driver 565.57.01 (Linux).
     * OpenCL-Benchmark README.md at commit 16a5626c0fcc6900565b9540c829f05d7b54e64f:
     *   CL_DEVICE_NAME "NVIDIA H100 80GB HBM3" [CL]; CL_DEVICE_MAX_COMPUTE_UNITS 132 [CL];
     *   "48 KB local" -> CL_DEVICE_LOCAL_MEM_SIZE 49152 [CL/MiB, KiB];
     *   "81105 MB VRAM" -> global 81105 MiB [CL/MiB]; "20276 MB global" buffer limit.
     * CUDA deviceQuery of the same board (github.com/thamada/nvidia-smi,
     * nvsim/H100SXMx8_deviceQuery.py): total global memory 85045477376 bytes [VENDOR], which
     * is 81105.5 MiB and so agrees with the OpenCL figure; shared memory per block 49152;
     * max threads per block 1024 and block dims (1024, 1024, 64) -> work group 1024, item
     * size[0] 1024 [VENDOR]; warp size 32 -> simd_width [VENDOR].
     * CL_DEVICE_MAX_MEM_ALLOC_SIZE 21261369344 [DERIVED]: a quarter of global memory, which
     * NVIDIA's OpenCL reports on every GPU in that README's history (H100, A100, RTX 2080 Ti,
     * TITAN Xp, K40m); it is 20276.4 MiB, matching the printed 20276 MB.
     * CL_DEVICE_LOCAL_MEM_TYPE Local, PREFERRED_VECTOR_WIDTH_FLOAT 1 [UNVERIFIED]: what
     * NVIDIA's OpenCL reports on every GPU found (e.g. hashcat/hashcat#3916 for the RTX 4090,
     * CNugteren/CLBlast#516). No cl_khr_fp16, no cl_khr_subgroups [UNVERIFIED]: absent
     * from NVIDIA's OpenCL 3.0 extension list (dev.to clinfo of the RTX 4090 below). */
    {"NVIDIA H100 80GB HBM3", 49152, 1, 1024, 1024, 132, 1, 32, 85045477376ULL,
     21261369344ULL, 0, 0,
     "https://github.com/ProjectPhysX/OpenCL-Benchmark/blob/16a5626/README.md"},

    /* NVIDIA A100-PCIE-40GB, NVIDIA's OpenCL, driver 525.89.02.
     * OpenCL-Benchmark README.md at commit c7e89877ff85508ea4f5c9d6bff637fc99f3bc15:
     *   CL_DEVICE_NAME "NVIDIA A100-PCIE-40GB" [CL]; CL_DEVICE_MAX_COMPUTE_UNITS 108 [CL];
     *   "48 KB local" -> 49152 [CL/MiB, KiB]; "40513 MB" -> global 40513 MiB =
     *   42480959488 [CL/MiB, exact bytes not published]; "10128 MB global" buffer limit ->
     *   max alloc 10128 MiB = 10619977728 [CL/MiB] (a quarter of global, as on every NVIDIA).
     * CUDA deviceQuery of an A100-SXM4-40GB (bottlerocket-os/bottlerocket#3873, same GA100
     * limits): 1024 threads per block, block dims (1024, 1024, 64), warp 32, shared memory
     * per block 49152 -> work group, item size[0], simd_width [VENDOR].
     * Local type, float vector width 1, no fp16, no subgroups [UNVERIFIED]: as for the H100. */
    {"NVIDIA A100-PCIE-40GB", 49152, 1, 1024, 1024, 108, 1, 32, 42480959488ULL,
     10619977728ULL, 0, 0,
     "https://github.com/ProjectPhysX/OpenCL-Benchmark/blob/c7e8987/README.md"},

    /* NVIDIA GeForce RTX 4090, NVIDIA's OpenCL.
     * hashcat/hashcat#3916 (clinfo, driver 525.147.05, Linux): "Local memory type Local",
     *   "Local memory size 49152 (48KiB)" [CL].
     * krrishnarraj/clpeak#106 (driver 531.61, Windows): "Compute units : 128" [CL], and
     *   "No half precision support!" (clpeak checks cl_khr_fp16) -> has_fp16 0 [CL].
     * dev.to/viveknanda/clinfo-on-nvidia-rtx4090-63j (clinfo, CUDA 12.4.131): CL_DEVICE_NAME
     *   "NVIDIA GeForce RTX 4090" [CL]; the platform extension list has neither cl_khr_fp16
     *   nor cl_khr_subgroups [CL, platform list].
     * Work group 1024, item size[0] 1024, warp 32 [VENDOR]: CUDA C Programming Guide,
     *   compute capability 8.9 limits (docs.nvidia.com/cuda/cuda-c-programming-guide,
     *   "Features and Technical Specifications"); NVIDIA's clinfo shows the same
     *   1024x1024x64 / 1024 / "Warp size (NV) 32" on other GPUs (BIMSBbioinfo/PocketVina#2).
     * Global memory 25769803776 [VENDOR]: the 24 GB of NVIDIA's specification as 24 GiB; the
     *   driver reports somewhat less (it keeps some for itself), figure not found.
     * Max alloc 6442450944 [DERIVED]: a quarter of the global figure above, NVIDIA's rule.
     * Float vector width 1 [UNVERIFIED]: as on every NVIDIA clinfo found. */
    {"NVIDIA GeForce RTX 4090", 49152, 1, 1024, 1024, 128, 1, 32, 25769803776ULL,
     6442450944ULL, 0, 0, "https://github.com/hashcat/hashcat/issues/3916"},

    /* AMD Instinct MI300X, ROCm's OpenCL (Linux).
     * hashcat/hashcat#4281 (AMD clinfo, ROCm): "Board name: AMD Instinct MI300X" [CL];
     *   "Max compute units: 304", "Max work items[0]: 1024", "Max work group size: 256",
     *   "Preferred vector width float: 1" [CL].
     * OpenCL-Benchmark README.md at commit 16a5626 (driver 3635.0 (HSA1.1,LC)): "64 KB local" ->
     *   65536 [CL/MiB, KiB]; "196592 MB VRAM" -> global 196592 MiB = 206141652992 [CL/MiB];
     *   buffer limit "196592 MB global" = min(max alloc, global), so max alloc is at least
     *   the global size and is taken equal to it [CL/MiB]; FP16 compute is measured, which
     *   that tool only does when CL_DEVICE_EXTENSIONS lists cl_khr_fp16 -> has_fp16 [CL].
     * rocminfo (ROCm/legacy-rocm-build#4414, MI300X): GPU pool 201310208 KB = the same
     *   206141652992 bytes; GROUP segment 64 KB; "Wavefront Size: 64" (also #4021) ->
     *   simd_width [VENDOR: ROCm's HSA query, CL_DEVICE_WAVEFRONT_WIDTH_AMD not found].
     * Local type Local, cl_khr_subgroups [UNVERIFIED]: what ROCm's OpenCL reports for gfx1100
     *   (next entry); not found for gfx942. CL_DEVICE_NAME here is the gfx942 target id. */
    {"AMD Instinct MI300X", 65536, 1, 256, 1024, 304, 1, 64, 206141652992ULL, 206141652992ULL,
     1, 1, "https://github.com/hashcat/hashcat/issues/4281"},

    /* AMD Radeon RX 7900 XTX, ROCm's OpenCL on Linux (ROCm 5.7, driver 3602.0 (HSA1.1,LC)).
     * Full clinfo in github.com/vampireLibrarianMonk/amd-gpu-hello, file
     * archive/raw_tf_torch_7900xtx.md at commit 86b877150d169bb22b94d1a07b2363dc93c67bfd
     * (removed from the branch since), all [CL]:
     *   Device Name gfx1100, Device Board Name (AMD) "Radeon RX 7900 XTX"; Max compute units
     *   48 (ROCm counts RDNA3 work-group processors: rocminfo shows 96 CUs); Max work item
     *   sizes 1024x1024x1024; Max work group size 256 (Max work group size (AMD) 1024);
     *   Wavefront width (AMD) 32; float 1 / 1; Global memory size 25753026560; Max memory
     *   allocation 21890072576 (85 %); Local memory type Local, size 65536; Device
     *   Extensions list cl_khr_fp16 and cl_khr_subgroups.
     * ROCm/ROCm#5675 (ROCm 6.4.2 on WSL, driver 3649.0 (HSA1.1,LC)) reports every figure the
     *   same. AMD's Windows driver (Adrenalin 25.11.1, same issue) also does, for its
     *   3652.0 (PAL,LC) platform; its second platform, 3661.0, reports local memory 32768. */
    {"Radeon RX 7900 XTX", 65536, 1, 256, 1024, 48, 1, 32, 25753026560ULL, 21890072576ULL, 1, 1,
     "https://github.com/vampireLibrarianMonk/amd-gpu-hello/blob/86b8771/archive/"
     "raw_tf_torch_7900xtx.md"},

    /* Intel(R) Data Center GPU Max 1100, Intel's NEO (compute-runtime) OpenCL, driver
     * 23.43.27642.67 (Linux). OpenCL-Benchmark README.md at commit
     * 4694a5b9cf1b39faf541c922fcb76518a7b72ca0:
     *   CL_DEVICE_NAME "Intel(R) Data Center GPU Max 1100" [CL]; compute units 448 [CL];
     *   "128 KB local" -> 131072 [CL/MiB, KiB]; FP16 compute measured -> cl_khr_fp16 [CL].
     *   Memory: "46679 MB global" buffer limit = min(max alloc, global) in MiB, both taken
     *   before the tool's Intel correction; "49135 MB VRAM" is global x 20/19 (src/opencl.hpp,
     *   Linux), so global is below 46679.2 MiB: global = 46679 MiB = 48946479104 [CL/MiB].
     *   Max alloc is at least that ("47799500 KB constant", 46679.2 MiB, agrees) and is
     *   taken equal to it [CL/MiB].
     * Intel's SYCL runtime over Level Zero on the same board (Triton XPU device properties
     *   in github.com/Devjiu/bitsandbytes, bitsandbytes/backends/triton/triton_kernels.py at
     *   commit 37e49bf844edbbfecef554cb009eecf296cf2abe): max_work_group_size 1024,
     *   max_compute_units 448, sub_group_sizes [16, 32], has_fp16 [VENDOR]. simd_width 16
     *   is the smallest listed sub-group size [VENDOR]; has_subgroups from the same list
     *   [VENDOR: cl_intel_subgroups not read for this device].
     * Item size[0] 1024 [UNVERIFIED]: NEO reports CL_DEVICE_MAX_WORK_ITEM_SIZES[0] equal to
     *   its work-group limit on every device read (1024x1024x1024 / 1024 for the Arc A750 in
     *   intel/compute-runtime#586; 256x256x256 / 256 on Gen9 in intel/compute-runtime#560).
     * Float vector width 1 [UNVERIFIED]: NEO's figure on the Arc A750 (openvinotoolkit/
     *   openvino#20012) and the UHD Graphics 770 (open-edge-platform/edge-microvisor-toolkit
     *   #379). Local type Local [UNVERIFIED]: no NEO "Local memory type" line was read; NEO
     *   reports a separate local memory (the SLM) of its own size on every device. */
    {"Intel(R) Data Center GPU Max 1100", 131072, 1, 1024, 1024, 448, 1, 16, 48946479104ULL,
     48946479104ULL, 1, 1,
     "https://github.com/ProjectPhysX/OpenCL-Benchmark/blob/4694a5b/README.md"},

    /* Intel(R) Arc(TM) A770 Graphics (16 GB), Intel's NEO OpenCL. No full OpenCL report of an
     * A770 was found; its figures come from Intel's Level Zero runtime, and the driver-level
     * ones from the Arc A750 (same Xe-HPG die and driver).
     * ggml-org/llama.cpp docs/backend/SYCL.md at commit
     * 01d98b4f74046dff52edf2fabdbd08b511b8a4cf: sycl-ls lists "Intel(R) Arc(TM) A770 Graphics
     *   OpenCL 3.0 NEO" -> CL_DEVICE_NAME [CL]; llama-ls-sycl-device over level_zero gives
     *   Max compute units 512, Max work group 1024, Global mem size 16225243136 [VENDOR].
     * Arc A750 (differs by SKU in compute units, 448, and memory, 8 GB), all [UNVERIFIED] here:
     *   openvinotoolkit/openvino#20012 (clinfo, Windows driver 31.0.101.4826): Sub-group sizes
     *   (Intel) 8, 16, 32 -> has_subgroups, simd_width 8 (the smallest); float 1 / 1;
     *   half 8 / 8 (cl_khr_fp16) -> has_fp16.
     *   intel/compute-runtime#586 (A750, NEO on Linux and WSL): OpenCL local memory 64.0 KB ->
     *   65536; Level Zero max work-group configuration [1024, 1024, 1024] -> item size[0].
     * Max alloc 4294959104 [UNVERIFIED]: intel/compute-runtime#627 says NEO caps
     *   CL_DEVICE_MAX_MEM_ALLOC_SIZE at "4GB" on the A770 16GB (3.86 GB on the A750); the
     *   exact 4294959104 (4 GiB - 8 KiB) is NEO's "Preferred total size of global vars" on
     *   an Arc in intel/intel-extension-for-tensorflow#56, which NEO sets from the same
     *   limit. Drivers after that issue lift the cap when asked to.
     * Local type Local [UNVERIFIED]: as for the Max 1100. */
    {"Intel(R) Arc(TM) A770 Graphics", 65536, 1, 1024, 1024, 512, 1, 8, 16225243136ULL,
     4294959104ULL, 1, 1,
     "https://github.com/ggml-org/llama.cpp/blob/01d98b4/docs/backend/SYCL.md"},
};

const size_t device_table_count = sizeof device_table / sizeof *device_table;

/* Left out, with what was found, for whoever finds the rest (the issue trackers were searched
 * through a stored index that returns one excerpt per issue, so a full clinfo pasted in an
 * issue could often be read only in part):
 * - Intel UHD Graphics 770: open-edge-platform/edge-microvisor-toolkit#379 (clinfo, NEO
 *   25.18.33578.6): CL_DEVICE_NAME "Intel(R) UHD Graphics 770", Sub-group sizes (Intel)
 *   8, 16, 32, Max sub-groups per work group 64, half 8/8 (cl_khr_fp16), float 1/1.
 *   Level Zero (ggml-org/llama.cpp docs/backend/SYCL.md): 32 compute units, max work group
 *   512, global 53651849216 (shared system memory). Local memory size and max alloc: not
 *   reached (the clinfo's later lines were not returned).
 * - Qualcomm Adreno 740 (CodeLinaro/llama.cpp#17, clinfo of a QCS8550): device name
 *   "QUALCOMM Adreno(TM) 740", preferred/native float 1/1, half 1/1 (cl_khr_fp16). Work
 *   group, item sizes, compute units, local and global memory: not reached.
 * - Arm Mali-G710: a Pixel 7's full clinfo is pasted in ggml-org/llama.cpp#2636, but only
 *   its extension and cache lines were reached. GPGPUCourse/GPGPUTasks2025#60 (Pixel 7,
 *   driver r51p0): "Mali-G710 r0p0", 7 compute units, local memory 32768 bytes, global
 *   "1862 MB". Work-group limits were found only for the Mali-G610 (same Valhall
 *   generation, blakeblackshear/frigate#5733: 1024x1024x1024 / 1024, preferred multiple 16,
 *   float 4/1), not for the G710; local memory type not found.
 * - Apple M2: course submissions print "Apple M2", 8 (or 10) compute units, a 256
 *   work-group limit and 12124 (or 16384) MB global (GPGPUCourse/GPGPUTasks2025#148, #112);
 *   no local memory size, item sizes or max alloc for the M2 (the M1 Pro prints 32 KB
 *   local, #43). */
