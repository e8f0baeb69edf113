"""Parsing raw Wikipedia `pages-articles` dumps (XML, bz2) into the ndjson `import_books` reads.

streams.py decompresses a bz2 file in a thread a few chunks ahead, reader.py turns the chunks into pages
with expat in constant memory, books.py finds the `Infobox book` pages and turns each into
an ndjson row, files.py parses one dump file into one ndjson file (resumable, never a partial file under
the final name), parallel.py runs many files over several processes with a progress bar each.
"""
