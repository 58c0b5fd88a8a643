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
 * The last four entries (Intel UHD Graphics 770, Qualcomm Adreno 740, Arm Mali-G710, Apple M2)
 * rest on thinner sources than the rest: several of their figures are [UNVERIFIED], each
 * named in its comment; the note at the end says what is still missing. */
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

    /* Intel(R) UHD Graphics 770 (Alder Lake / Raptor Lake desktop, Xe-LP), Intel's NEO OpenCL.
     * open-edge-platform/edge-microvisor-toolkit#379 (clinfo, NEO 25.18.33578.6): CL_DEVICE_NAME
     *   "Intel(R) UHD Graphics 770" [CL]; Sub-group sizes (Intel) 8, 16, 32 -> has_subgroups,
     *   simd_width 8 (the smallest) [CL]; half 8 / 8 (cl_khr_fp16) -> has_fp16 [CL]; float 1 / 1
     *   -> vector width [CL].
     * ggml-org/llama.cpp docs/backend/SYCL.md at commit 01d98b4 (llama-ls-sycl-device over
     *   level_zero): Max compute units 32, Max work group 512, Global mem size 53651849216 (the
     *   system memory it shares) [VENDOR: Intel's Level Zero runtime].
     * Item size[0] 512 [UNVERIFIED]: NEO's rule, item size[0] = work-group limit (see the Max
     *   1100). Local memory 65536, type Local [UNVERIFIED]: NEO's 64 KiB SLM as on the Arc A750
     *   (intel/compute-runtime#586); the clinfo's local memory lines were not reached. Max alloc
     *   4294959104 [UNVERIFIED]: NEO's 4 GiB cap, as for the A770. */
    {"Intel(R) UHD Graphics 770", 65536, 1, 512, 512, 32, 1, 8, 53651849216ULL, 4294959104ULL,
     1, 1, "https://github.com/open-edge-platform/edge-microvisor-toolkit/pull/379"},

    /* QUALCOMM Adreno(TM) 740 (Snapdragon 8 Gen 2, QCS8550), Qualcomm's OpenCL 3.0.
     * CodeLinaro/llama.cpp#17 (clinfo of a QCS8550, driver "OpenCL 3.0 QUALCOMM build: commit
     *   unknown"): CL_DEVICE_NAME "QUALCOMM Adreno(TM) 740", preferred / native float 1 / 1,
     *   half 1 / 1 (cl_khr_fp16) [CL]; cl_qcom_reqd_sub_group_size and cl_qcom_subgroup_shuffle
     *   listed.
     * ggml-org/llama.cpp#10693 (Redmi K70, Snapdragon 8 Gen 2, i.e. this GPU): "max mem alloc
     *   size: 1024 MB" -> 1073741824 [CL/MiB].
     * Work group 1024 [UNVERIFIED]: "device max workgroup size: 1024" on an Adreno 643
     *   (ggml-org/whisper.cpp#3935); item size[0] taken equal to it [UNVERIFIED].
     * Local memory 32768, type Local [UNVERIFIED]: "Local memory type Local", "Local memory size
     *   32768 (32KiB)" in the Adreno clinfos of BOINC/boinc#3613 and ggml-org/llama.cpp#11953;
     *   Mesa's freedreno_devices.py gives the FD740 cs_shared_mem_size = 32 * 1024.
     * simd_width 64 [UNVERIFIED]: Adreno runs waves of 64 (half) or 128 (full) fibers; the
     *   smaller is taken. Qualcomm's own ggml OpenCL backend (ggml/src/ggml-opencl/
     *   ggml-opencl.cpp: "Use wave size of 64 for all Adreno GPUs") uses it; Qualcomm's Adreno
     *   OpenCL programming guide was not read.
     * Compute units 6 [UNVERIFIED]: not found for any Adreno 7xx; 6 is the FD740's num_ccu in
     *   Mesa's freedreno_devices.py (one colour cache per shader processor); whether Qualcomm
     *   counts its shader processors as compute units was not checked.
     * Global memory 5814714368 [UNVERIFIED]: an Adreno 750's clinfo (Oblomov/clinfo#92), which
     *   also reports the same 1073741824 max alloc; a phone's figure depends on its RAM.
     * has_subgroups [UNVERIFIED]: the Adreno 750 lists cl_khr_subgroups (same issue). */
    {"QUALCOMM Adreno(TM) 740", 32768, 1, 1024, 1024, 6, 1, 64, 5814714368ULL, 1073741824ULL, 1,
     1, "https://github.com/CodeLinaro/llama.cpp/pull/17"},

    /* Mali-G710 r0p0 (Google Pixel 7, MC7), Arm's OpenCL 3.0, driver r51p0.
     * GPGPUCourse/GPGPUTasks2025#60: device name "Mali-G710 r0p0", Max compute units 7, Local
     *   memory size 32768 bytes [CL]; "Global memory size: 1862 MB" -> 1862 MiB = 1952448512
     *   [CL/MiB, the program's rounding assumed to be down].
     * ggml-org/llama.cpp#2636 (Pixel 7 clinfo): cl_khr_subgroup_ballot, _shuffle and the other
     *   cl_khr_subgroup_* extensions listed -> has_subgroups [CL, the part of the list read].
     * Mali-G610 (same Valhall generation, on an RK3588), all [UNVERIFIED] here:
     *   blakeblackshear/frigate#5733: Max work item sizes 1024x1024x1024, Max work group size
     *   1024, Preferred work group size multiple 16 -> simd_width 16 (Valhall's 16-wide warps),
     *   preferred float width 4; cl_khr_fp16 and cl_khr_subgroups listed -> has_fp16.
     *   hominoids/sgminer-arm#12: Max memory allocation equal to Global memory size
     *   (7797280768) -> max alloc = global.
     * Local memory type Global [UNVERIFIED]: Mali has no local memory apart from the caches;
     *   the Mali clinfos found say "Local memory type Global" (Mali-T628, MichaIng/DietPi#4101).
     *   select_shape still gives a GPU local tiles (lib/tile_select.c). */
    {"Mali-G710 r0p0", 32768, 0, 1024, 1024, 7, 4, 16, 1952448512ULL, 1952448512ULL, 1, 1,
     "https://github.com/GPGPUCourse/GPGPUTasks2025/pull/60"},

    /* Apple M2 (10-core GPU), Apple's OpenCL 1.2 (macOS).
     * GPGPUCourse/GPGPUTasks2025#112: device name "Apple M2", compute units 10, global memory
     *   "16384 MB" -> 17179869184 [CL/MiB]. GPGPUCourse/GPGPUTasks2025#148 (an 8-core M2):
     *   "Max Work Group Size: 256" [CL].
     * Item size[0] 256 [UNVERIFIED]: taken equal to the work-group limit.
     * Local memory 32768, type Local [UNVERIFIED]: the M1 Pro prints "Local memory size: 32 KB"
     *   (GPGPUCourse/GPGPUTasks2025#43).
     * simd_width 32 [VENDOR]: Apple's Metal documents SIMD-groups of 32 threads on its GPUs
     *   (threadExecutionWidth); Apple's OpenCL has no query for it.
     * Float vector width 1, no cl_khr_fp16, no cl_khr_subgroups [UNVERIFIED]: the M1's device
     *   extension list (diku-dk/futhark#1708, hashcat/hashcat#2976) was not read in full.
     * Max alloc 4294967296 [UNVERIFIED]: a quarter of global; the one Apple GPU whose max
     *   alloc was found (GPGPUCourse/GPGPUTasks2025#7, 10 compute units, name not reached)
     *   prints 3072 MB, a quarter of the 12288 MB that Apple reports on 18 GB Macs (#166). */
    {"Apple M2", 32768, 1, 256, 256, 10, 1, 32, 17179869184ULL, 4294967296ULL, 0, 0,
     "https://github.com/GPGPUCourse/GPGPUTasks2025/pull/112"},
};

const size_t device_table_count = sizeof device_table / sizeof *device_table;

/* Still missing, for whoever finds it (the issue trackers were searched through a stored index
 * that returns one excerpt per issue, so a full clinfo pasted in an issue could often be read
 * only in part):
 * - Intel UHD Graphics 770: the local memory size and max alloc lines of the clinfo in
 *   open-edge-platform/edge-microvisor-toolkit#379.
 * - Qualcomm Adreno 740: compute units, work-group and item sizes, local and global memory
 *   (CodeLinaro/llama.cpp#17 has the full clinfo; only its name, vector-width and extension
 *   lines were reached); Qualcomm's documented wave sizes.
 * - Arm Mali-G710: work-group and item sizes, preferred multiple, vector widths, local memory
 *   type and max alloc (ggml-org/llama.cpp#2636 has a Pixel 7's full clinfo; only its
 *   extension and cache lines were reached).
 * - Apple M2: local memory size and type, item sizes, max alloc, vector widths and extensions
 *   (no full clinfo of an M2 was found). */
