/* bcryptprimitives.dll's ProcessPrng, for Wine 8.0, which lacks that DLL.
 * Rust's standard library (1.78 and later) imports it for its random
 * numbers (HashMap's keys); without it every Rust .exe exits 53 at load
 * and prints nothing. RtlGenRandom (advapi32's SystemFunction036) is what
 * Wine has instead. tests/support/windows.rs builds this with MinGW-w64
 * into the Wine prefix's system32. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
