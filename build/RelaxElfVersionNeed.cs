#nullable enable
// MSBuild inline task (compiled by RoslynCodeTaskFactory, see LibTorchSharpGlibcxx.targets).
// Marks one symbol-version requirement of an ELF64 little-endian shared library as weak, so the dynamic
// loader accepts a libstdc++ that lacks that version. Runs only when the system libstdc++ lacks it.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class RelaxElfVersionNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    [Required]
    public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        string? systemLibrary = FindSystemLibStdCxx();
        if (systemLibrary != null && ContainsAscii(File.ReadAllBytes(systemLibrary), VersionName))
        {
            Log.LogMessage(MessageImportance.Low, $"{systemLibrary} provides {VersionName}; nothing to relax.");
            return true;
        }

        foreach (ITaskItem item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                string result = Relax(path, VersionName);
                Log.LogMessage(MessageImportance.Normal, $"{path}: {result}");
            }
            catch (Exception ex)
            {
                Log.LogError($"Could not relax {VersionName} in {path}: {ex.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static string? FindSystemLibStdCxx()
    {
        string[] directories =
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };
        foreach (string directory in directories)
        {
            string candidate = Path.Combine(directory, "libstdc++.so.6");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        byte[] pattern = Encoding.ASCII.GetBytes(needle + "\0");
        for (int i = 0; i + pattern.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < pattern.Length && haystack[i + j] == pattern[j])
            {
                j++;
            }
            if (j == pattern.Length)
            {
                return true;
            }
        }
        return false;
    }

    private static string Relax(string path, string versionName)
    {
        byte[] image = File.ReadAllBytes(path);
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
        {
            return "not an ELF file, left unchanged";
        }
        if (image[4] != 2 || image[5] != 1)
        {
            return "not ELF64 little-endian, left unchanged";
        }

        ulong sectionTable = BitConverter.ToUInt64(image, 0x28);
        int entrySize = BitConverter.ToUInt16(image, 0x3A);
        int sectionCount = BitConverter.ToUInt16(image, 0x3C);
        var found = new List<int>();
        for (int section = 0; section < sectionCount; section++)
        {
            int header = Checked(image, (long)sectionTable + (long)section * entrySize, 64);
            if (BitConverter.ToUInt32(image, header + 4) != ShtGnuVerneed)
            {
                continue;
            }
            long offset = (long)BitConverter.ToUInt64(image, header + 0x18);
            uint link = BitConverter.ToUInt32(image, header + 0x28);
            uint needCount = BitConverter.ToUInt32(image, header + 0x2C);
            int stringHeader = Checked(image, (long)sectionTable + (long)link * entrySize, 64);
            long strings = (long)BitConverter.ToUInt64(image, stringHeader + 0x18);

            long need = offset;
            for (uint n = 0; n < needCount; n++)
            {
                int needAt = Checked(image, need, 16);
                int auxCount = BitConverter.ToUInt16(image, needAt + 2);
                long aux = need + BitConverter.ToUInt32(image, needAt + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int auxAt = Checked(image, aux, 16);
                    long nameAt = strings + BitConverter.ToUInt32(image, auxAt + 8);
                    if (ReadCString(image, nameAt) == versionName)
                    {
                        found.Add(auxAt);
                    }
                    uint nextAux = BitConverter.ToUInt32(image, auxAt + 12);
                    if (nextAux == 0)
                    {
                        break;
                    }
                    aux += nextAux;
                }
                uint nextNeed = BitConverter.ToUInt32(image, needAt + 12);
                if (nextNeed == 0)
                {
                    break;
                }
                need += nextNeed;
            }
        }

        if (found.Count == 0)
        {
            return $"no requirement for {versionName}, left unchanged";
        }
        bool changed = false;
        foreach (int auxAt in found)
        {
            ushort flags = BitConverter.ToUInt16(image, auxAt + 4);
            if ((flags & VerFlgWeak) == 0)
            {
                flags |= VerFlgWeak;
                image[auxAt + 4] = (byte)(flags & 0xff);
                image[auxAt + 5] = (byte)(flags >> 8);
                changed = true;
            }
        }
        if (!changed)
        {
            return $"{versionName} already weak";
        }
        // Write a new file and put it in place of the old one: a hard link into a package cache stays untouched.
        string temporary = path + ".relaxing";
        File.WriteAllBytes(temporary, image);
        File.Delete(path);
        File.Move(temporary, path);
        return $"marked {versionName} weak";
    }

    private static int Checked(byte[] image, long offset, int length)
    {
        if (offset < 0 || offset + length > image.Length)
        {
            throw new InvalidDataException($"ELF structure at offset {offset} lies outside the file");
        }
        return (int)offset;
    }

    private static string ReadCString(byte[] image, long offset)
    {
        int start = Checked(image, offset, 1);
        int end = start;
        while (end < image.Length && image[end] != 0)
        {
            end++;
        }
        return Encoding.ASCII.GetString(image, start, end - start);
    }
}
