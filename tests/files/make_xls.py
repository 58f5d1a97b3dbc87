"""Writes tests/files/клиенты.xls (Excel 97-2003), once, with xlwt in a throwaway venv."""

import datetime as dt
import sys

import xlwt

book = xlwt.Workbook(encoding="utf-8")
sheet = book.add_sheet("Клиенты")
other = book.add_sheet("Второй лист")
other.write(0, 0, "не читается")
date = xlwt.easyxf(num_format_str="DD.MM.YYYY")
rows = [
    [],  # row 1 empty: the header is the first filled row
    ["Фамилия", "Имя", "Email", "Сотовый телефон", "Согласие на рассылку"],
    ["Иванов", "Пётр", "ivanov@mail.ru", 79031112233, dt.date(2024, 5, 1)],
    ["Смирнова", "Анна", "smirnova@mail.ru", "8 (916) 111-22-33", "да"],
    [],
    ["Сидоров", "", "bad@mail", "", ""],  # row 6: rejected, the email is wrong
    ["Козлов", "Илья", "kozlov@mail.ru", 89261234567.0, ""],
]
for r, row in enumerate(rows):
    for c, value in enumerate(row):
        if isinstance(value, dt.date):
            sheet.write(r, c, value, date)
        else:
            sheet.write(r, c, value)
book.save(sys.argv[1])
